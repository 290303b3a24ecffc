"""Services: arm settings layered on the main ones, shared parts, readiness, stats, traffic."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ragline.core.chat import ChatRequest, Message
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.ingest import NoProgress
from ragline.serving.api.context import ANONYMOUS
from ragline.serving.api.services import ROUTER_ALIASES, Services
from ragline.serving.errors import ConfigError
from ragline.serving.settings import Settings
from tests.rag.ingest_helpers import write_corpus

pytestmark = pytest.mark.integration

CANARY = {"arm": {"name": "v2", "llm": {"provider": "vllm:small", "fallbacks": []}}, "percent": 50}


def api_settings(tmp: Path, onnx_cache: Path | None, **sections: Any) -> Settings:
    """Settings for API tests: data under `tmp`, small chunks, one try per model call, and
    `sections` layered on top (e.g. llm={"provider": "vllm:x"})."""
    base: dict[str, Any] = {
        "data_dir": tmp / "data",
        "embedding": {"onnx_cache": onnx_cache},
        "chunking": {"chunk_size": 48, "chunk_overlap": 8},
        "llm": {"retry": {"attempts": 1}},
    }
    return Settings.model_validate(_merge(base, sections))


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        nested = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = _merge(out[key], value) if nested else value
    return out


@pytest.fixture
def onnx_cache(embedder: SentenceTransformerEmbedder) -> Path | None:
    """The session embedder's ONNX export folder: Services reuse the export, not redo it."""
    return embedder.config.onnx_cache


@pytest.fixture
def canary_services(tmp_path: Path, onnx_cache: Path | None) -> Iterator[Services]:
    settings = api_settings(
        tmp_path, onnx_cache, serve={"traffic": {"canary": CANARY}}, retrieval={"top_k": 7}
    )
    services = Services(settings)
    yield services
    services.close()


def test_arm_overrides_layer_on_the_main_settings(canary_services: Services) -> None:
    main, arm = canary_services.pipeline(None), canary_services.pipeline("v2")
    assert main.settings.llm.provider == "extractive"
    assert arm.settings.llm.provider == "vllm:small"
    assert arm.settings.llm.fallbacks == ()
    assert arm.settings.llm.retry.attempts == 1  # the rest of llm comes from the main settings
    assert arm.settings.retrieval.top_k == 7
    assert arm.router is not main.router
    assert arm.served_models() == ("vllm:small",)


def test_arms_share_one_embedder_and_one_store(canary_services: Services) -> None:
    corpus = write_corpus(canary_services.settings.data_dir / "corpus", repeat=1)
    canary_services.ingest("docs", [corpus], NoProgress())
    main = canary_services.pipeline(None).retriever("docs")
    arm = canary_services.pipeline("v2").retriever("docs", mode="dense")
    assert main.embedder is arm.embedder
    assert main.store is arm.store
    assert (main.config.mode, arm.config.mode) == ("hybrid", "dense")


def test_unknown_arm_is_an_error(canary_services: Services) -> None:
    with pytest.raises(ValueError, match="configured arms: \\['v2'\\]"):
        canary_services.pipeline("v3")


def test_a_bad_override_fails_at_start_up_with_its_key_path(
    tmp_path: Path, onnx_cache: Path | None
) -> None:
    arm = {"name": "bad", "llm": {"retry": {"attempts": 0}}}
    settings = api_settings(tmp_path, onnx_cache, serve={"traffic": {"canary": {"arm": arm}}})
    with pytest.raises(ConfigError, match=r"serve\.traffic\.canary\.arm\.llm\.retry\.attempts"):
        Services(settings)


def test_chat_model_names(canary_services: Services) -> None:
    main = canary_services.pipeline(None)
    assert all(main.chat_model(alias) is main.router for alias in ROUTER_ALIASES)
    alone = main.chat_model("extractive")
    assert alone is not None and alone is not main.router
    assert alone.config.fallbacks == () and alone.config.provider == "extractive"
    assert main.chat_model("extractive") is alone  # built once
    assert main.chat_model("openai:gpt-4o") is None


def test_ready_after_warm_up_reports_each_part(tmp_path: Path, onnx_cache: Path | None) -> None:
    services = Services(api_settings(tmp_path, onnx_cache))
    try:
        ready, parts = services.ready()
        assert not ready and parts["warm_up"] == "not started"
        services.warm_up()
        ready, parts = services.ready()
        assert ready, parts
        assert parts["store"] == "ok"
        assert parts["collection"].startswith("missing: 'ragline'")  # reported, not blocking
        assert parts["embedder"].startswith("loaded")
    finally:
        services.close()


def test_warm_up_failure_shows_in_ready(tmp_path: Path, onnx_cache: Path | None) -> None:
    services = Services(api_settings(tmp_path, onnx_cache, llm={"provider": "nosuch:model"}))
    try:
        services.warm_up()
        ready, parts = services.ready()
        assert not ready
        assert parts["warm_up"].startswith("failed (UnknownProvider")
    finally:
        services.close()


def test_stats_sum_router_counters_and_breakers(canary_services: Services) -> None:
    request = ChatRequest(messages=(Message("user", "hello there"),), max_tokens=16)
    main = canary_services.pipeline(None)
    main.router.complete(request, key="alice")
    main.router.complete(request, key="alice")  # the exact cache answers
    alone = main.chat_model("extractive")
    assert alone is not None
    alone.complete(request)
    stats = canary_services.stats()
    assert stats.calls == 3
    assert stats.exact_hits == 2  # the lone extractive router shares the cache file
    assert stats.breakers == {"extractive": "closed"}


def test_traffic_arm_is_sticky_per_key(canary_services: Services) -> None:
    traffic = canary_services.traffic
    assert traffic is not None and traffic.mode == "canary"
    arms = {name: canary_services.arm_for(name, None) for name in (f"key{i}" for i in range(40))}
    assert set(arms.values()) == {None, "v2"}  # 50% canary: both sides get keys
    assert all(canary_services.arm_for(name, None) == arm for name, arm in arms.items())
    by_user = canary_services.arm_for(ANONYMOUS, "user-7")
    assert all(canary_services.arm_for(ANONYMOUS, "user-7") == by_user for _ in range(10))


def test_no_traffic_config_means_no_arms(tmp_path: Path, onnx_cache: Path | None) -> None:
    services = Services(api_settings(tmp_path, onnx_cache))
    try:
        assert services.traffic is None
        assert services.arm_for("alice", None) is None
        with services.outcome(None):  # records nothing, raises nothing
            pass
    finally:
        services.close()
