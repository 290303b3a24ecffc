"""Versioned prompt templates: the text a model is sent lives in configs/prompts/, named by a
version id ("grounded-answer@1") that answers, eval runs and cost events record.

    template = resolve_prompt("grounded-answer@1")         # or load_prompt("grounded-answer", 1)
    rendered = template.render(context=blocks, question="How do I install ragline?")
    rendered.messages        # (Message("system", ...), Message("user", ...))
    rendered.prompt          # "grounded-answer@1": put it on the ChatRequest
    template.fingerprint     # "grounded-answer@1#3f2a9c1b": the id and a digest of the text

One file per version, configs/prompts/<name>/v<version>.yaml:

    description: what the prompt is for and who fills it
    variables:                      # every {{name}} the text uses, and what the caller puts there
      question: the user's question, on one line
    system: |-
      You answer ...
    user: |-
      Question: {{question}}

Why a file per version: a version that was recorded must stay re-renderable byte for byte, so a
change is a new file (copy the last one, edit, review the diff), never an edit of an old one.
`digest` (sha256 of the system and user text, 8 hex digits) shows an edit that kept its version
number: eval runs record the `fingerprint`.

Placeholders are `{{name}}` (spaces inside allowed), so the JSON braces prompts are full of need
no escaping. Rendering is one pass: a value is never searched for placeholders, so a document
that contains "{{question}}" stays text. `render` refuses a missing or an unknown variable; a
file whose text and `variables` disagree is refused when it is loaded.

Lookup: the `folder` given, else ./configs/prompts and then the checkout's configs/prompts
(`ragline.core.config_files.config_dirs`): a project can add versions of its own beside the
shipped ones. Loaded templates are cached (they are read on every answer); `clear_prompt_cache`
forgets them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml
from pydantic import Field, ValidationError, model_validator

from ragline.core.chat import Message
from ragline.core.config_files import config_dirs
from ragline.core.errors import RaglineError
from ragline.core.strict import Strict

DEFAULT_DIR: Final = Path("configs/prompts")
_PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ID: Final = re.compile(r"^([a-z0-9][a-z0-9-]{0,63})(?:@([1-9][0-9]{0,8}))?$")
_VERSION_FILE: Final = re.compile(r"^v([1-9][0-9]{0,8})\.yaml$")


class PromptError(RaglineError, ValueError):
    """A template that cannot be found, read or filled; the message names the files and the fix.

    A `ValueError` too, so a settings validator that loads a template reports it as a bad value
    of its key (`answer.prompt: no prompt template ...`).
    """


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """A template filled in: the system and user text, and the id of the template.

    RenderedPrompt("You answer ...", "Question: Who?", "grounded-answer@1").messages
    """

    system: str
    user: str
    prompt: str

    @property
    def messages(self) -> tuple[Message, Message]:
        """The system message, then the user message."""
        return (Message("system", self.system), Message("user", self.user))


class PromptTemplate(Strict):
    """One version of a prompt: its system text, its user template and its variables.

    template = PromptTemplate(name="echo", version=1, system="Repeat the text.",
                              user="Text: {{text}}", variables={"text": "what to repeat"})
    template.id                                  # "echo@1"
    template.render(text="hello").user           # "Text: hello"
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    version: int = Field(ge=1)
    system: str
    user: str
    variables: dict[str, str] = Field(default_factory=dict)  # name -> what the caller puts there
    description: str = ""
    source: Path | None = None  # the file it was read from

    @model_validator(mode="after")
    def _placeholders_declared(self) -> PromptTemplate:
        used = placeholders(self.system) | placeholders(self.user)
        unknown = sorted(used - set(self.variables))
        unused = sorted(set(self.variables) - used)
        where = self.source or self.id
        if unknown:
            raise ValueError(
                f"{where}: the text uses {', '.join('{{' + n + '}}' for n in unknown)} but "
                "`variables` does not declare it; declare it or fix the spelling"
            )
        if unused:
            raise ValueError(
                f"{where}: `variables` declares {', '.join(unused)} but the text never uses it; "
                "use it as {{name}} or remove it"
            )
        return self

    @property
    def id(self) -> str:
        """ "name@version": what config selects and what answers and cost events record."""
        return f"{self.name}@{self.version}"

    @property
    def digest(self) -> str:
        """The first 8 hex digits of the sha256 of the system and user text."""
        text = f"{self.system}\x00{self.user}".encode()
        return hashlib.sha256(text).hexdigest()[:8]

    @property
    def fingerprint(self) -> str:
        """ "name@version#digest": the id, and whether the text is the one it was."""
        return f"{self.id}#{self.digest}"

    def render(self, **values: str) -> RenderedPrompt:
        """The template with every `{{name}}` replaced by `values[name]` (one pass).

        Raises `PromptError` naming what is missing or unexpected: a caller and a template
        that disagree on the variables are a bug to fix, not a prompt to send half-filled.
        """
        missing = sorted(set(self.variables) - set(values))
        unknown = sorted(set(values) - set(self.variables))
        if missing or unknown:
            parts = [f"missing {', '.join(missing)}"] if missing else []
            parts += [f"unknown {', '.join(unknown)}"] if unknown else []
            raise PromptError(
                f"prompt {self.id} takes {_names(self.variables)}; got {'; '.join(parts)}"
            )
        for name, value in values.items():
            if not isinstance(value, str):
                raise PromptError(f"prompt {self.id}: {name} must be text, got {type(value)}")

        def fill(match: re.Match[str]) -> str:
            return values[match.group(1)]

        return RenderedPrompt(
            _PLACEHOLDER.sub(fill, self.system), _PLACEHOLDER.sub(fill, self.user), self.id
        )

    def require(
        self, offered: Collection[str], needed: Collection[str] = (), *, setting: str
    ) -> PromptTemplate:
        """This template, if its variables are among `offered` and include `needed` (what the
        code that fills it provides and relies on); else a `PromptError` naming `setting`."""
        extra = sorted(set(self.variables) - set(offered))
        lacking = sorted(set(needed) - set(self.variables))
        problems = []
        if extra:
            problems.append(f"uses {', '.join(extra)}")
        if lacking:
            problems.append(f"lacks {', '.join(lacking)}")
        if problems:
            raise PromptError(
                f"{setting}: prompt {self.id} {' and '.join(problems)}; templates for it may use "
                f"{_names(offered)} and must use {_names(needed)}"
            )
        return self


def placeholders(text: str) -> set[str]:
    """The variable names `text` uses as `{{name}}`.

    Example:
        >>> sorted(placeholders('Q: {{question}} {"a": 1} {{ context }}'))
        ['context', 'question']
    """
    return set(_PLACEHOLDER.findall(text))


def parse_prompt_id(ref: str) -> tuple[str, int | None]:
    """(name, version) of "name@version"; version None for a bare "name" (the latest).

    Example:
        >>> parse_prompt_id("grounded-answer@2")
        ('grounded-answer', 2)
    """
    match = _ID.match(ref.strip())
    if match is None:
        raise PromptError(
            f"{ref!r} is not a prompt id; write name@version, e.g. grounded-answer@1 (lower-case "
            "letters, digits and '-'; a version is a whole number from 1)"
        )
    return match.group(1), int(match.group(2)) if match.group(2) else None


def resolve_prompt(ref: str, folder: Path | None = None) -> PromptTemplate:
    """The template "name@version" names ("name" alone: its latest version)."""
    name, version = parse_prompt_id(ref)
    return load_prompt(name, version, folder)


def load_prompt(
    name: str, version: int | None = None, folder: Path | None = None
) -> PromptTemplate:
    """The template `name` at `version` (None: the highest there is), read once and cached."""
    # The working directory is part of the key: the default lookup starts at ./configs/prompts.
    return _load(name, version, folder, os.getcwd())


def clear_prompt_cache() -> None:
    """Forget the templates read so far (a test, or a process that edits them, reads anew)."""
    _load.cache_clear()


def available_prompts(folder: Path | None = None) -> dict[str, tuple[int, ...]]:
    """Every template name found, with its versions in ascending order."""
    found: dict[str, set[int]] = {}
    for root in _folders(folder):
        for child in sorted(root.iterdir()):
            if child.is_dir():
                found.setdefault(child.name, set()).update(_versions(child))
    return {name: tuple(sorted(v)) for name, v in sorted(found.items()) if v}


@functools.lru_cache(maxsize=256)
def _load(name: str, version: int | None, folder: Path | None, cwd: str) -> PromptTemplate:
    roots = _folders(folder)
    homes = [root / name for root in roots if (root / name).is_dir()]
    if not homes:
        known = ", ".join(available_prompts(folder)) or "none"
        raise PromptError(
            f"no prompt template named {name!r} in {_paths(roots)} (templates there: {known}); "
            f"fix the name or add {DEFAULT_DIR / name / 'v1.yaml'}"
        )
    versions = set().union(*(_versions(home) for home in homes))
    if not versions:
        raise PromptError(
            f"{_paths(homes)} holds no v<version>.yaml file; add {DEFAULT_DIR / name / 'v1.yaml'}"
        )
    wanted = max(versions) if version is None else version
    for home in homes:
        path = home / f"v{wanted}.yaml"
        if path.is_file():
            return _read(path, name, int(path.stem[1:]))
    files = sorted({p.name for home in homes for p in home.glob("*.yaml")})
    raise PromptError(
        f"no version {wanted} of prompt template {name!r} in {_paths(homes)} (files there: "
        f"{', '.join(files) or 'none'}); pick one of {_ids(name, versions)} or add "
        f"v{wanted}.yaml"
    )


def _read(path: Path, name: str, version: int) -> PromptTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError(f"cannot read prompt template {path} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise PromptError(f"prompt template {path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise PromptError(f"{path} must hold a mapping: description, variables, system, user")
    fields = {str(k): v for k, v in data.items()}
    reserved = sorted({"name", "version", "source"} & set(fields))
    if reserved:
        raise PromptError(
            f"{path}: remove {', '.join(reserved)}; the folder names the template and the file "
            "name (v<version>.yaml) its version"
        )
    try:
        return PromptTemplate(**fields, name=name, version=version, source=path)
    except ValidationError as exc:
        raise PromptError(_explain(path, exc)) from None


def _explain(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; a template holds description, variables, system and user"
        lines.append(f"{where}: {message}" if where else message)
    return f"prompt template {path} is not usable: " + "; ".join(lines)


def _folders(folder: Path | None) -> tuple[Path, ...]:
    if folder is not None:
        return (folder,) if folder.is_dir() else ()
    return config_dirs(DEFAULT_DIR)


def _versions(home: Path) -> set[int]:
    return {int(m.group(1)) for p in home.iterdir() if (m := _VERSION_FILE.match(p.name))}


def _names(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "no variables"


def _ids(name: str, versions: Collection[int]) -> str:
    return ", ".join(f"{name}@{v}" for v in sorted(versions)) or "none"


def _paths(paths: Collection[Path]) -> str:
    return " and ".join(str(p) for p in paths) or f"{DEFAULT_DIR} (not found)"
