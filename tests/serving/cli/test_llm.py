"""`ragline llm suggest` through ragline's real root app and settings: the best and the
cost-effective model with monthly costs for several tasks, the verdicts, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.serving.cli.app import app
from ragline.serving.cli.llm import configured_models
from ragline.serving.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    return CliRunner()


def suggest(runner: CliRunner, *args: object) -> tuple[int, str]:
    result = runner.invoke(app, ["llm", "suggest", *map(str, args)])
    return result.exit_code, result.stdout + result.stderr


def test_classification_at_volume_prints_both_options_and_a_priced_fine_tune_verdict(
    runner: CliRunner,
) -> None:
    code, text = suggest(
        runner, "--task", "classification", "--volume", 50_000, "--labelled", 1_200
    )
    assert code == 0, text
    assert "50,000 calls/day x (500 in + 10 out tokens) = 25,500,000 tokens/day" in text
    # gpt-5-nano: (500 x 0.05 + 10 x 0.40) / 1e6 x 50,000 x 30 = $43.50
    assert "$43.50" in text and "best" in text and "cost-effective" in text
    assert "cascade openai:gpt-5-nano -> anthropic:claude-haiku-4-5" in text
    assert "fine-tune: fine-tune: saves $241.00/month ($825.00 API - $584.00 hosting)" in text
    assert "LoRA 8B: 1 h on 1 x A100 40GB; served on 1 x L4 24GB" in text
    assert "self-host: 25,500,000 tokens/day >= 10,000,000" in text


def test_three_tasks_three_tiers(runner: CliRunner) -> None:
    for task, tier, cheapest in (
        ("summarization", "mid", "gpt-5-mini"),
        ("code", "frontier", "gpt-4.1"),
        ("extraction", "small", "gpt-5-nano"),
    ):
        code, text = suggest(runner, "--task", task, "--volume", 2_000, "--labelled", 50)
        assert code == 0, text
        assert f"methodology: {task} -> a {tier} model" in text
        assert f"cascade openai:{cheapest} -> " in text
        assert "fine-tune: few-shot: 50 labelled < 100: few-shot prompting" in text


def test_token_flags_and_on_prem_change_the_numbers(runner: CliRunner) -> None:
    code, text = suggest(
        runner, "--task", "generation", "--volume", 100, "--tokens-in", 1000, "--tokens-out", 0,
        "--on-prem",
    )  # fmt: skip
    assert code == 0, text
    assert "100 calls/day x (1,000 in + 0 out tokens) = 100,000 tokens/day" in text
    assert "self-host: data must stay on-premises" in text


def test_an_unknown_task_exits_2_with_the_choices(runner: CliRunner) -> None:
    code, text = suggest(runner, "--task", "poetry")
    assert code == 2 and "use one of classification, extraction" in text


def test_configured_models_resolve_bare_providers_and_skip_extractive(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "llm:\n  provider: openai\n  fallbacks: [anthropic:claude-haiku-4-5, extractive]\n"
    )
    settings = load_settings(config)
    assert configured_models(settings) == [
        "openai:gpt-4o-mini",
        "anthropic:claude-haiku-4-5",
        "local:all-MiniLM-L6-v2",
    ]
