"""`ragline chat` driven by a LiteLLM proxy config.yaml: two deployments on two OpenAI-format
servers on 127.0.0.1 (real HTTP), LiteLLM's load balancing as ragline's `ab` policy, and a
LiteLLM price file merged under configs/pricing.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ragline.core.chat import ChatRequest, Message
from ragline.llm_router.build import build_router
from ragline.llm_router.policies import weighted_choice
from ragline.serving.cli.app import app
from ragline.serving.settings import load_settings
from tests.llm_router.llama_server import free_port
from tests.serving.api.openai_fake import FakeOpenAI, Reply

pytestmark = pytest.mark.integration

A, B = "openai:gpt-4o-mini", "openai:acme-chat"  # LiteLLM: openai/gpt-4o-mini, openai/acme-chat
# LiteLLM's prices: acme-chat is priced only here; gpt-4o-mini here too, but ragline's wins.
PRICES = {
    "gpt-4o-mini": {
        "input_cost_per_token": 9e-06,
        "output_cost_per_token": 9e-06,
        "litellm_provider": "openai",
    },
    "acme-chat": {
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 2e-06,
        "litellm_provider": "openai",
    },
}
WriteConfig = Callable[[str, str], Path]


@pytest.fixture
def servers() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    with FakeOpenAI([Reply("Hello from A.")]) as a, FakeOpenAI([Reply("Hello from B.")]) as b:
        yield a, b


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteConfig:
    """ragline settings whose deployments come from a LiteLLM config.yaml at `url_a`, `url_b`."""
    monkeypatch.setenv("FAKE_KEY_A", "sk-test-a")
    monkeypatch.setenv("FAKE_KEY_B", "sk-test-b")
    prices = tmp_path / "model_prices_and_context_window.json"
    prices.write_text(json.dumps(PRICES), encoding="utf-8")

    def write(url_a: str, url_b: str) -> Path:
        litellm = tmp_path / "litellm.yaml"
        entries = [(url_a, "gpt-4o-mini", "FAKE_KEY_A"), (url_b, "acme-chat", "FAKE_KEY_B")]
        model_list = [
            {
                "model_name": "chat",
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": url,
                    "api_key": f"os.environ/{key}",
                },
            }
            for url, model, key in entries
        ]
        routing = {"routing_strategy": "simple-shuffle", "num_retries": 0}
        litellm.write_text(yaml.safe_dump({"model_list": model_list, "router_settings": routing}))
        settings = {
            "data_dir": str(tmp_path / ".ragline"),
            "llm": {
                "litellm_config": str(litellm),
                "cache": {"enabled": False},  # every run asks a server
                "retry": {"attempts": 1},
            },
            "costs": {"litellm_prices": str(prices)},
        }
        path = tmp_path / "ragline.yaml"
        path.write_text(yaml.safe_dump(settings), encoding="utf-8")
        return path

    return write


def _dead() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.mark.parametrize(
    ("down", "answer", "model", "cost"),
    [
        # A is down: B answers, priced from the LiteLLM file (20 * 1 + 5 * 2 per 1M)
        ("a", "Hello from B.", B, "$0.000030"),
        # B is down: A answers at configs/pricing.yaml's price (20 * 0.15 + 5 * 0.60 per 1M),
        # not at the LiteLLM file's 9e-06 per token
        ("b", "Hello from A.", A, "$0.000006"),
    ],
)
def test_chat_falls_back_to_the_other_litellm_deployment(
    servers: tuple[FakeOpenAI, FakeOpenAI],
    write_config: WriteConfig,
    down: str,
    answer: str,
    model: str,
    cost: str,
) -> None:
    a, b = servers
    config = write_config(_dead() if down == "a" else a.url, _dead() if down == "b" else b.url)
    result = CliRunner().invoke(app, ["--config", str(config), "chat", "Say hello."])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert answer in lines
    assert lines[-1].startswith(f"{model} · ") and cost in lines[-1], lines[-1]
    dead_model = A if down == "a" else B
    if "tried" in lines[-1]:  # the dead one was drawn first (ab), then the other answered
        assert f"tried {dead_model}:Unavailable" in lines[-1]
    live = b if down == "a" else a
    assert [body["model"] for body in live.bodies] == [model.partition(":")[2]]


def test_both_deployments_take_traffic_by_weight_sticky_per_key(
    servers: tuple[FakeOpenAI, FakeOpenAI], write_config: WriteConfig
) -> None:
    a, b = servers
    settings = load_settings(write_config(a.url, b.url))
    llm = settings.llm
    assert llm.policy == "ab" and [d.model for d in llm.deployments] == [A, B]
    keys = [f"user-{n}" for n in range(50)]
    arm = {key: weighted_choice(llm.deployments, key).model for key in keys}
    one_each = [next(k for k in keys if arm[k] == A), next(k for k in keys if arm[k] == B)]
    router = build_router(llm, data_dir=settings.data_dir, prices=settings.costs.prices())
    request = ChatRequest(messages=(Message("user", "Say hello."),), max_tokens=8)
    try:
        done = [router.complete(request, key=key) for key in [*one_each, *one_each]]
    finally:
        router.close()
    assert [c.model for c in done] == [A, B, A, B]  # the same key, the same deployment
    assert [c.text for c in done[:2]] == ["Hello from A.", "Hello from B."]
    assert [body["model"] for body in a.bodies] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert [body["model"] for body in b.bodies] == ["acme-chat", "acme-chat"]
