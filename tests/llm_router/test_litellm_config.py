"""A LiteLLM `model_list` as ragline deployments: prefixes, env references, refusals, groups."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ragline.llm_router.config import LlmConfig
from ragline.llm_router.errors import AuthError
from ragline.llm_router.litellm_config import (
    LiteLLMConfigError,
    load_litellm_config,
    map_model_list,
    to_deployment,
)
from ragline.llm_router.policies import Deployment
from ragline.llm_router.registry import resolve

pytestmark = pytest.mark.unit

SECRET = "sk-live-abc123"


def _entry(model_name: str, **params: object) -> dict[str, object]:
    return {"model_name": model_name, "litellm_params": params}


def _write(tmp_path: Path, *entries: dict[str, object], **top: object) -> Path:
    path = tmp_path / "litellm.yaml"
    path.write_text(yaml.safe_dump({"model_list": list(entries), **top}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model": "openai/gpt-4o-mini"}, Deployment(model="openai:gpt-4o-mini")),
        (
            {"model": "anthropic/claude-haiku-4-5", "api_key": "os.environ/CLAUDE_KEY"},
            Deployment(model="anthropic:claude-haiku-4-5", api_key_env="CLAUDE_KEY"),
        ),
        (
            {"model": "hosted_vllm/Qwen/Qwen2.5-7B", "api_base": "http://gpu-1:8000/v1"},
            Deployment(model="vllm:Qwen/Qwen2.5-7B", base_url="http://gpu-1:8000/v1"),
        ),
        (  # an OpenAI-compatible server that wants a key stays openai (and OpenAI's price)
            {
                "model": "openai/my-model",
                "api_base": "https://llm.internal/v1",
                "api_key": "os.environ/INTERNAL_KEY",
                "weight": 3,
            },
            Deployment(
                model="openai:my-model",
                base_url="https://llm.internal/v1",
                api_key_env="INTERNAL_KEY",
                weight=3.0,
            ),
        ),
    ],
)
def test_each_supported_prefix_maps_to_a_ragline_deployment(
    params: dict[str, object], expected: Deployment
) -> None:
    assert to_deployment(params, "chat", {}) == expected


def test_an_env_reference_in_api_base_is_read_and_a_missing_one_is_named() -> None:
    params = {"model": "hosted_vllm/qwen", "api_base": "os.environ/GPU_URL"}
    environ = {"GPU_URL": "http://gpu-2:8000/v1"}
    assert to_deployment(params, "chat", environ).base_url == "http://gpu-2:8000/v1"
    with pytest.raises(LiteLLMConfigError, match="api_base reads GPU_URL from the environment"):
        to_deployment(params, "chat", {})


@pytest.mark.parametrize("key", [SECRET, "os.environ/", "os.environ/NOT A NAME", 12345])
def test_a_literal_key_is_refused_without_repeating_it(key: object) -> None:
    with pytest.raises(LiteLLMConfigError) as caught:
        to_deployment({"model": "openai/gpt-4o-mini", "api_key": key}, "chat", {})
    message = str(caught.value)
    assert "api_key: os.environ/NAME" in message and "'chat'" in message
    assert SECRET not in message and "12345" not in message


@pytest.mark.parametrize(
    "model", ["azure/gpt-4o", "bedrock/anthropic.claude-3", "gpt-4o", "vllm/x"]
)
def test_an_unknown_prefix_is_refused_with_the_supported_ones(model: str) -> None:
    with pytest.raises(LiteLLMConfigError) as caught:
        to_deployment({"model": model}, "chat", {})
    message = str(caught.value)
    assert repr(model) in message
    assert "supported: anthropic/, hosted_vllm/, openai/" in message


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"model": "openai/x", "api_base": "127.0.0.1:8000"}, "api_base must be an http(s) URL"),
        ({"model": "openai/x", "weight": 0}, "weight must be > 0"),
        ({"model": "openai/x", "weight": "heavy"}, "weight must be a number"),
        ({"model": ""}, "litellm_params.model must name the model"),
    ],
)
def test_bad_params_say_what_to_fix(params: dict[str, object], problem: str) -> None:
    with pytest.raises(LiteLLMConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        to_deployment(params, "chat", {})


def test_one_group_answers_and_the_rest_of_the_file_is_reported_as_ignored() -> None:
    raw = {
        "model_list": [
            _entry("chat", model="openai/gpt-4o-mini", rpm=60),
            _entry("big", model="anthropic/claude-sonnet-4-5"),
            _entry("chat", model="openai/gpt-4.1-nano", weight=2, tpm=1000),
        ],
        "router_settings": {"routing_strategy": "simple-shuffle"},
        "litellm_settings": {"drop_params": True},
    }
    models = map_model_list(raw)
    assert models.group == "chat"
    assert [d.model for d in models.deployments] == ["openai:gpt-4o-mini", "openai:gpt-4.1-nano"]
    assert [d.weight for d in models.deployments] == [1.0, 2.0]
    assert models.ignored == (
        "router_settings",
        "litellm_settings",
        "model_name big",
        "litellm_params.rpm",
        "litellm_params.tpm",
    )
    big = map_model_list(raw, group="big")
    assert [d.model for d in big.deployments] == ["anthropic:claude-sonnet-4-5"]
    with pytest.raises(LiteLLMConfigError, match="its model_names: chat, big"):
        map_model_list(raw, group="gpt-5")


@pytest.mark.parametrize(
    "raw",
    [None, {}, {"model_list": []}, {"model_list": [{"model_name": "chat"}]}, ["model_list"]],
)
def test_a_file_without_a_usable_model_list_is_refused(raw: object) -> None:
    with pytest.raises(LiteLLMConfigError, match="model_list"):
        map_model_list(raw)


def test_one_model_twice_in_a_group_is_refused() -> None:
    raw = {
        "model_list": [
            _entry("chat", model="hosted_vllm/qwen", api_base="http://gpu-1:8000/v1"),
            _entry("chat", model="hosted_vllm/qwen", api_base="http://gpu-2:8000/v1"),
        ]
    }
    with pytest.raises(LiteLLMConfigError, match="lists vllm:qwen more than once"):
        map_model_list(raw)


def test_the_config_takes_the_group_and_turns_fixed_into_ab(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(
        tmp_path,
        _entry("chat", model="openai/gpt-4o-mini", api_key="os.environ/KEY_A"),
        _entry("chat", model="hosted_vllm/qwen", api_base="http://127.0.0.1:8000/v1"),
        general_settings={"master_key": SECRET},
    )
    with caplog.at_level(logging.WARNING, logger="ragline.llm_router.litellm_config"):
        config = LlmConfig(litellm_config=path)
    assert config.policy == "ab"
    assert config.deployments == (
        Deployment(model="openai:gpt-4o-mini", api_key_env="KEY_A"),
        Deployment(model="vllm:qwen", base_url="http://127.0.0.1:8000/v1"),
    )
    assert "ignores general_settings" in caplog.text and SECRET not in caplog.text
    # dumped and validated again (eval suites, traffic arms): the same config
    assert LlmConfig.model_validate(config.model_dump()) == config
    assert LlmConfig(litellm_config=path, policy="cascade").policy == "cascade"


def test_deployments_from_both_places_are_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, _entry("chat", model="openai/gpt-4o-mini"))
    other = (Deployment(model="openai:gpt-4.1"),)
    with pytest.raises(ValidationError, match="both list deployments; keep one"):
        LlmConfig(litellm_config=path, deployments=other)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(LiteLLMConfigError, match=r"llm.litellm_config .* cannot be read"):
        load_litellm_config(tmp_path / "nope.yaml")


def test_the_registry_builds_a_deployment_with_its_own_key_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KEY_A", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-provider-default")
    config = LlmConfig(
        policy="ab",
        deployments=(Deployment(model="openai:gpt-4o-mini", api_key_env="KEY_A"),),
    )
    with pytest.raises(AuthError, match="set KEY_A"):
        resolve("openai:gpt-4o-mini", config)
    assert resolve("openai:gpt-4.1", config).name == "openai:gpt-4.1"  # not a deployment
    monkeypatch.setenv("KEY_A", "sk-a")
    assert resolve("openai:gpt-4o-mini", config).name == "openai:gpt-4o-mini"


def test_one_model_on_two_endpoints_or_an_endpoint_on_local_is_a_config_error() -> None:
    one = Deployment(model="vllm:qwen", base_url="http://gpu-1:8000/v1")
    two = Deployment(model="vllm:qwen", base_url="http://gpu-2:8000/v1")
    with pytest.raises(ValidationError, match="with different base_url/api_key_env"):
        LlmConfig(policy="ab", deployments=(one, two))
    local = Deployment(model="local", base_url="http://gpu-1:8000/v1")
    with pytest.raises(ValidationError, match="provider 'local' does not take"):
        LlmConfig(policy="ab", deployments=(local,))
