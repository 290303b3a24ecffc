"""YAML files mltrack reads (training configs, problem briefs): one way to read and explain them.

    raw = read_mapping(path, TrainConfigError, "check the path", "data:, features:, ...")
    config = TrainConfig.model_validate(raw)          # on ValidationError:
    raise TrainConfigError(f"{path}: invalid training config:\\n{explain(exc)}")

Every failure is the caller's error type, and its message starts with the file and says what
to do: a missing file, an unreadable one, broken YAML, or a top level that is not a mapping.
`explain` gives one line per validation error, starting with the key path (a section
validator's "field: ..." message extends the section's path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ragline.mltrack.errors import MltrackError

_LEADING_KEY = re.compile(r"^([a-z_][a-z0-9_]*): ")


def read_mapping(
    path: Path, error: type[MltrackError], when_missing: str, expected: str
) -> dict[str, Any]:
    """The YAML mapping in `path`; `error` naming the file and the fix otherwise.

    `when_missing`: what to do when the file does not exist; `expected`: the top-level keys a
    reader should see, for the message when the file holds something else.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{path}: no such file; {when_missing}") from exc
    except (OSError, UnicodeDecodeError) as exc:  # a folder, no permission, not text
        raise error(f"{path}: cannot read it ({exc}); give a YAML file") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping with {expected}")
    return raw


def explain(exc: ValidationError, hints: Mapping[str, str] | None = None, indent: str = "") -> str:
    """One line per error: "key.path: message"; `hints` replace pydantic's wording by error
    type (say "empty; fill it in" instead of "String should have at least 1 character")."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        key = _LEADING_KEY.match(message)
        if path and key:  # a section validator's "field: ..." extends the section's path
            path, message = f"{path}.{key.group(1)}", message[key.end() :]
        message = (hints or {}).get(err["type"], message)
        lines.append(f"{indent}{path}: {message}" if path else f"{indent}{message}")
    return "\n".join(lines)
