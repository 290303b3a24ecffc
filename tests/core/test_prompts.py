"""Versioned prompt templates: files read and checked, rendering in one pass, ids and digests,
the layered lookup, the cache, and errors that name the files there are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from ragline.core.prompts import (
    PromptError,
    PromptTemplate,
    available_prompts,
    clear_prompt_cache,
    load_prompt,
    parse_prompt_id,
    placeholders,
    resolve_prompt,
)

pytestmark = pytest.mark.unit

ECHO = """\
description: repeats a text
variables:
  text: 'what to repeat'
  style: 'how: plainly or loudly'
system: |-
  Repeat the text {{style}}. Reply as {"text": "<text>"}.
user: |-
  Text: {{ text }}
"""


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_prompt_cache()
    yield
    clear_prompt_cache()


def write(folder: Path, name: str, version: int, text: str) -> Path:
    path = folder / name / f"v{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "prompts"
    write(root, "echo", 1, ECHO)
    write(root, "echo", 2, ECHO.replace("Repeat the text", "Say the text again"))
    return root


def test_a_template_is_read_rendered_and_named(folder: Path) -> None:
    template = load_prompt("echo", 1, folder)
    assert (template.name, template.version, template.id) == ("echo", 1, "echo@1")
    assert template.variables == {"text": "what to repeat", "style": "how: plainly or loudly"}
    assert template.source == folder / "echo" / "v1.yaml"
    rendered = template.render(text="hello", style="loudly")
    assert rendered.system == 'Repeat the text loudly. Reply as {"text": "<text>"}.'
    assert rendered.user == "Text: hello" and rendered.prompt == "echo@1"
    system, user = rendered.messages
    assert (system.role, system.content, user.role, user.content) == (
        "system",
        rendered.system,
        "user",
        "Text: hello",
    )


def test_rendering_is_one_pass_so_values_stay_text(folder: Path) -> None:
    rendered = load_prompt("echo", 1, folder).render(text="{{style}} and {{text}}", style="{{x}}")
    assert rendered.user == "Text: {{style}} and {{text}}"
    assert rendered.system.startswith("Repeat the text {{x}}.")


def test_render_refuses_missing_unknown_and_non_text_values(folder: Path) -> None:
    template = load_prompt("echo", 1, folder)
    with pytest.raises(PromptError, match=r"echo@1 takes style, text; got missing style"):
        template.render(text="hello")
    with pytest.raises(PromptError, match=r"missing style; unknown tone"):
        template.render(text="hello", tone="dry")
    with pytest.raises(PromptError, match="text must be text"):
        template.render(text=3, style="plainly")  # type: ignore[arg-type]


def test_no_version_means_the_latest(folder: Path) -> None:
    assert load_prompt("echo", folder=folder).version == 2
    assert resolve_prompt("echo", folder).id == "echo@2"
    assert resolve_prompt("echo@1", folder).id == "echo@1"
    assert available_prompts(folder) == {"echo": (1, 2)}


def test_the_digest_follows_the_text_and_nothing_else(folder: Path) -> None:
    one, two = load_prompt("echo", 1, folder), load_prompt("echo", 2, folder)
    assert len(one.digest) == 8 and one.digest != two.digest
    assert one.fingerprint == f"echo@1#{one.digest}"
    described = one.model_copy(update={"description": "another description"})
    assert described.digest == one.digest
    edited = PromptTemplate(
        name="echo", version=1, system=one.system + ".", user=one.user, variables=one.variables
    )
    assert edited.id == one.id and edited.digest != one.digest  # edited without a new version


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [("grounded-answer@1", ("grounded-answer", 1)), (" condense ", ("condense", None))],
)
def test_prompt_ids_parse(ref: str, parsed: tuple[str, int | None]) -> None:
    assert parse_prompt_id(ref) == parsed


@pytest.mark.parametrize("ref", ["", "Grounded@1", "answer@0", "answer@v1", "a@1@2", "a b"])
def test_bad_prompt_ids_say_how_to_write_one(ref: str) -> None:
    with pytest.raises(PromptError, match=r"write name@version, e\.g\. grounded-answer@1"):
        parse_prompt_id(ref)


def test_an_unknown_name_or_version_names_what_is_there(folder: Path) -> None:
    (folder / "echo" / "v3.yml").write_text(ECHO)  # the wrong suffix: listed, never loaded
    with pytest.raises(
        PromptError, match=r"no prompt template named 'ecko' .*templates there: echo"
    ):
        load_prompt("ecko", 1, folder)
    with pytest.raises(
        PromptError, match=r"no version 3 of prompt template 'echo' .*files there: v1.yaml, v2.yaml"
    ) as info:
        load_prompt("echo", 3, folder)
    assert "pick one of echo@1, echo@2 or add v3.yaml" in str(info.value)
    assert isinstance(info.value, ValueError)  # settings validators report it as a bad value
    (folder / "empty").mkdir()
    with pytest.raises(PromptError, match=r"holds no v<version>.yaml file"):
        load_prompt("empty", folder=folder)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ECHO.replace("{{ text }}", "{{txt}}"), r"uses \{\{txt\}\} but `variables` does not"),
        (ECHO.replace("  style: 'how: plainly or loudly'\n", ""), r"uses \{\{style\}\}"),
        (ECHO + "extra: [unclosed\n", "not valid YAML"),
        (ECHO.replace("variables:", "variables:\n  unused: 'never used'"), "declares unused"),
        (ECHO + "version: 3\n", "remove version; the folder names the template"),
        (ECHO + "model: gpt\n", "model: unknown key; a template holds description"),
        (ECHO.replace("user: |-\n  Text: {{ text }}\n", ""), "user: Field required"),
        ("- a list\n", "must hold a mapping"),
    ],
)
def test_a_bad_file_is_refused_with_its_path(folder: Path, text: str, message: str) -> None:
    path = write(folder, "bad", 1, text)
    with pytest.raises(PromptError, match=message) as info:
        load_prompt("bad", 1, folder)
    assert str(path) in str(info.value)


def test_templates_are_cached_until_cleared(folder: Path) -> None:
    first = load_prompt("echo", 1, folder)
    write(folder, "echo", 1, ECHO.replace("Repeat", "Echo"))
    assert load_prompt("echo", 1, folder) is first  # read once: they are read on every answer
    clear_prompt_cache()
    assert load_prompt("echo", 1, folder).system.startswith("Echo the text")


def test_the_working_directory_adds_versions_beside_the_shipped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = load_prompt("grounded-answer", 1)
    write(tmp_path / "configs" / "prompts", "grounded-answer", 7, ECHO)
    monkeypatch.chdir(tmp_path)
    mine = load_prompt("grounded-answer")
    assert (
        mine.version == 7
        and mine.source == (tmp_path / "configs/prompts/grounded-answer/v7.yaml").resolve()
    )
    assert load_prompt("grounded-answer", 1).user == shipped.user  # still found, in the checkout
    assert available_prompts()["grounded-answer"] == (1, 7)


def test_require_checks_what_the_caller_fills(folder: Path) -> None:
    template = load_prompt("echo", 1, folder)
    assert template.require(("text", "style", "more"), ("text",), setting="x.prompt") is template
    with pytest.raises(PromptError, match=r"x.prompt: prompt echo@1 uses style; templates for it"):
        template.require(("text",), setting="x.prompt")
    with pytest.raises(PromptError, match=r"lacks more; .* must use more"):
        template.require(("text", "style", "more"), ("more",), setting="x.prompt")


def test_a_template_value_checks_itself() -> None:
    with pytest.raises(ValidationError, match="declares b but the text never uses it"):
        PromptTemplate(name="t", version=1, system="{{a}}", user="", variables={"a": "", "b": ""})
    with pytest.raises(ValidationError):
        PromptTemplate(name="Bad Name", version=1, system="", user="")
    assert placeholders("{{a}} {{ b }} {{1x}} {a} {{c-d}}") == {"a", "b"}
