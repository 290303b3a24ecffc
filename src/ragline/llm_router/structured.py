"""Structured outputs: a reply validated against a JSON schema or a pydantic model.

    class City(BaseModel):
        name: str
        population: int

    city = router.complete(request, output=City)                  # a validated City
    done = complete_structured(call, request, City, max_repairs=2)
    done.value, done.completion.text, done.repairs

The request goes out with the schema (`ChatRequest.json_schema`): providers with native
structured output use it (OpenAI `json_schema`, vLLM guided decoding, llama.cpp's grammar for
the local model), the others are told to reply in JSON. Every reply is parsed (a Markdown code
fence around it is tolerated) and validated; a reply that fails is sent back with the
validation errors, up to `max_repairs` times, each repair a call of its own (costed and
counted like any other). `InvalidOutput` when the last one still fails.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import jsonschema
from pydantic import BaseModel, ValidationError

from ragline.core.chat import ChatRequest, Completion, Message
from ragline.llm_router.errors import InvalidOutput

V = TypeVar("V")
Output = type[BaseModel] | Mapping[str, Any]
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_MAX_ERRORS = 5


@dataclass(frozen=True, slots=True)
class Structured(Generic[V]):
    """A validated reply: the value (a model instance, or the parsed JSON), the completion it
    came from, and how many repair calls it took."""

    value: V
    completion: Completion
    repairs: int


def schema_of(output: Output) -> dict[str, Any]:
    """The JSON schema of a pydantic model (or the schema given)."""
    if isinstance(output, type):
        return output.model_json_schema()
    jsonschema.validators.validator_for(output).check_schema(output)
    return dict(output)


def complete_structured(
    call: Callable[[ChatRequest], Completion],
    request: ChatRequest,
    output: Output,
    max_repairs: int,
    on_repair: Callable[[], None] | None = None,
) -> Structured[Any]:
    """Ask with `output`'s schema, validate, repair (see the module docstring).

    A schema that is not a valid JSON schema raises `jsonschema.SchemaError` before any call."""
    schema = schema_of(output)
    asked = dataclasses.replace(request, json_schema=schema, json_object=False)
    for repairs in range(max_repairs + 1):
        completion = call(asked)
        value, problems = validate(completion.text, output)
        if not problems:
            return Structured(value, completion, repairs)
        if repairs == max_repairs:
            break
        if on_repair is not None:
            on_repair()
        messages = (*asked.messages, *_repair(completion, problems))
        asked = dataclasses.replace(asked, messages=messages)
    raise InvalidOutput(
        f"{completion.model} did not reply with JSON matching the schema after {max_repairs} "
        f"repairs ({'; '.join(problems)}); use a stronger model or a simpler schema",
        completion.text,
    )


def validate(text: str, output: Output) -> tuple[Any, list[str]]:
    """The parsed, validated value of `text`, or the problems found (empty when valid)."""
    fenced = _FENCE.match(text)
    raw = fenced.group(1) if fenced else text
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, [f"not valid JSON: {exc.msg} at character {exc.pos}"]
    if isinstance(output, type):
        try:
            return output.model_validate(parsed), []
        except ValidationError as exc:
            return None, [_pydantic_problem(e) for e in exc.errors()[:_MAX_ERRORS]]
    validator = jsonschema.validators.validator_for(output)(output)
    errors = sorted(validator.iter_errors(parsed), key=lambda e: list(e.path))
    problems = [f"{'/'.join(map(str, e.path)) or 'the reply'}: {e.message}" for e in errors]
    return parsed, problems[:_MAX_ERRORS]


def _pydantic_problem(error: Any) -> str:
    where = "/".join(str(p) for p in error.get("loc", ())) or "the reply"
    return f"{where}: {error.get('msg', 'invalid')}"


def _repair(completion: Completion, problems: list[str]) -> tuple[Message, Message]:
    feedback = (
        "That reply does not match the JSON schema: "
        + "; ".join(problems)
        + ". Reply again with only the corrected JSON object."
    )
    return Message("assistant", completion.text), Message("user", feedback)
