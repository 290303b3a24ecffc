"""`ragline chat` end to end (in-process CLI) against a real llama.cpp server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app
from tests.llm_router.llama_server import MODEL_ALIAS, free_port

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str]]
MODEL = f"vllm:{MODEL_ALIAS}"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llama_server_url: str) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("RAGLINE_LLM__VLLM__BASE_URL", llama_server_url)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["chat", *args])
        return result.exit_code, result.output

    return invoke


def test_chat_prints_the_answer_model_tokens_and_cost(run: Invoke, tmp_path: Path) -> None:
    code, output = run("Say hello.", "--model", MODEL, "--max-tokens", "8")
    assert code == 0, output
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"{MODEL} · ") and " in / " in last and "$0.000000" in last
    assert "(provider)" in last  # llama.cpp reported the token counts
    with Ledger(LedgerConfig(), tmp_path / ".ragline") as ledger:
        events = ledger.events()
    assert [(e.kind, e.model) for e in events] == [("llm", MODEL)]  # once, in the ledger only
    assert not (tmp_path / ".ragline" / "costs.jsonl").exists()


def test_json_carries_the_request_id_the_ledger_knows(run: Invoke, tmp_path: Path) -> None:
    code, output = run("Say hi.", "--model", MODEL, "--max-tokens", "4", "--json")
    assert code == 0, output
    data = json.loads(output)
    with Ledger(LedgerConfig(), tmp_path / ".ragline") as ledger:
        parts = ledger.breakdown(data["request_id"])
    assert parts == {"llm": Decimal(0)} and data["cost_usd"] == 0.0


def test_a_repeated_prompt_is_served_by_the_exact_cache(run: Invoke) -> None:
    code, first = run("Name a colour.", "--model", MODEL, "--max-tokens", "6", "--json")
    assert code == 0, first
    code, second = run("Name a colour.", "--model", MODEL, "--max-tokens", "6", "--json")
    one, two = json.loads(first), json.loads(second)
    assert one["cache"] is None and two["cache"] == "exact"
    assert two["text"] == one["text"] and two["cost_usd"] == 0.0


def test_stream_prints_the_pieces_then_the_summary(run: Invoke) -> None:
    code, output = run("Count to three.", "--model", MODEL, "--max-tokens", "12", "--stream")
    assert code == 0, output
    lines = output.strip().splitlines()
    assert lines[0].strip() and lines[-1].startswith(f"{MODEL} · ")


def test_a_dead_provider_falls_back_to_extractive(
    run: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGLINE_LLM__VLLM__BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("RAGLINE_LLM__PROVIDER", MODEL)
    code, output = run("Say hello.")
    assert code == 0, output
    assert "extractive:bm25" in output and f"tried {MODEL}:Unavailable" in output


def test_bad_input_exits_two_with_the_reason(run: Invoke) -> None:
    code, output = run("hello", "--model", "nope:model")
    assert code == 2 and "unknown provider 'nope'" in output
    code, output = run("   ")
    assert code == 2 and "the prompt is empty" in output


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["name", "population"],
}


def test_schema_prints_validated_json_from_the_local_model(run: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "city.json"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    code, output = run(
        "Describe Oslo: name and population.", "--model", "local", "--schema", str(path)
    )
    assert code == 0, output
    body, _, last = output.strip().rpartition("\n")
    city = json.loads(body)
    assert set(city) == {"name", "population"} and isinstance(city["population"], int)
    assert last.startswith("local:")


def test_a_bad_schema_file_says_what_is_wrong(run: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"type": "objekt"}', encoding="utf-8")
    code, output = run("Hi", "--model", "local", "--schema", str(path))
    assert code == 2 and "not a valid JSON schema" in output
