"""Structured outputs: validation and repair logic, then schema-valid JSON from the packaged
local model (llama.cpp grammar) and from a real llama.cpp server (its json_object form), via
`Router.complete(..., output=Model)` and `Router.structured`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import jsonschema
import pytest
from pydantic import BaseModel

from ragline.core.chat import ChatRequest, Completion, Message, Usage
from ragline.llm_router.build import build_router
from ragline.llm_router.config import LlmConfig
from ragline.llm_router.errors import InvalidOutput
from ragline.llm_router.structured import complete_structured, validate
from tests.llm_router.llama_server import MODEL_ALIAS


class City(BaseModel):
    name: str
    population: int


SCHEMA = City.model_json_schema()
ASK = ChatRequest(
    messages=(Message("user", "Describe the city of Oslo as JSON: its name and population."),),
    max_tokens=64,
)


@pytest.mark.unit
def test_validate_reads_fenced_json_and_names_what_is_wrong() -> None:
    value, problems = validate('```json\n{"name": "Oslo", "population": 7}\n```', City)
    assert value == City(name="Oslo", population=7) and problems == []
    _, problems = validate('{"name": "Oslo"}', City)
    assert problems == ["population: Field required"]
    _, problems = validate('{"name": "Oslo", "population": "many"}', SCHEMA)
    assert problems == ["population: 'many' is not of type 'integer'"]
    _, problems = validate("Oslo has 700,000 people.", SCHEMA)
    assert problems[0].startswith("not valid JSON")


class Scripted:
    """Replies in order, as a model would; records what it was asked."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.asked: list[ChatRequest] = []

    def __call__(self, request: ChatRequest) -> Completion:
        self.asked.append(request)
        return Completion(self.replies.pop(0), "scripted:x", Usage(10, 5), 1.0)


@pytest.mark.unit
def test_a_bad_reply_is_repaired_with_its_errors_and_counted() -> None:
    model, repairs = Scripted('{"name": "Oslo"}', '{"name": "Oslo", "population": 7}'), []
    done = complete_structured(model, ASK, City, max_repairs=2, on_repair=lambda: repairs.append(1))
    assert done.value == City(name="Oslo", population=7) and done.repairs == 1 == len(repairs)
    assert model.asked[0].json_schema == SCHEMA
    feedback = model.asked[1].messages[-1].content
    assert (
        "population: Field required" in feedback and model.asked[1].messages[-2].role == "assistant"
    )


@pytest.mark.unit
def test_repairs_are_bounded() -> None:
    model = Scripted("no", "still no", "never")
    with pytest.raises(InvalidOutput, match="after 1 repairs") as caught:
        complete_structured(model, ASK, City, max_repairs=1)
    assert len(model.asked) == 2 and caught.value.text == "still no"


@pytest.mark.unit
def test_a_broken_schema_fails_before_any_call() -> None:
    model = Scripted()
    with pytest.raises(jsonschema.SchemaError):
        complete_structured(model, ASK, {"type": "objekt"}, max_repairs=1)
    assert model.asked == []


@pytest.fixture(scope="module")
def local_router() -> Iterator[object]:
    router = build_router(LlmConfig(provider="local", fallbacks=()))
    yield router
    router.close()


@pytest.mark.integration
def test_the_packaged_local_model_writes_schema_valid_json(local_router: object) -> None:
    from ragline.llm_router.router import Router

    assert isinstance(local_router, Router)
    city = local_router.complete(ASK, output=City)
    assert isinstance(city, City) and city.name
    done = local_router.structured(ASK, SCHEMA)
    jsonschema.validate(done.value, SCHEMA)
    assert done.repairs == 0  # the grammar makes the first reply valid


@pytest.mark.integration
def test_a_llama_cpp_server_takes_the_json_object_form(llama_server_url: str) -> None:
    config = LlmConfig(
        provider=f"vllm:{MODEL_ALIAS}",
        fallbacks=(),
        vllm={"base_url": llama_server_url, "structured_output": "json_object"},
    )
    router = build_router(config)
    try:
        done = router.structured(dataclasses.replace(ASK, max_tokens=48), SCHEMA)
        jsonschema.validate(done.value, SCHEMA)
    finally:
        router.close()
