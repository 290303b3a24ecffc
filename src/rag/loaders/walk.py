"""Find the files an ingest should read, and refuse those that escape the ingest root."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file to read: its resolved path and its name relative to the ingest root."""

    path: Path
    relative: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A path the walk will not read, and why."""

    path: str
    reason: str


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob with `**` (any depth), `*` and `?` into a regex over POSIX paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def matches(relative: str, patterns: Sequence[str]) -> bool:
    """True if the POSIX relative path matches any of the globs."""
    return any(glob_regex(p).match(relative) for p in patterns)


def walk(
    root: Path, include: Sequence[str], exclude: Sequence[str]
) -> Iterator[Candidate | Refused]:
    """Files under `root` (or `root` itself) in sorted order; links that leave `root` are refused.

    A single file given as root is taken whatever its name; directories are filtered by the
    include and exclude globs, matched against paths relative to the root.
    """
    if root.is_file():
        yield Candidate(path=root.resolve(), relative=root.name)
        return
    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        here = Path(dirpath)
        dirnames.sort()
        for name in list(dirnames):
            link = here / name
            rel = link.relative_to(base).as_posix()
            if matches(rel + "/", exclude) or matches(rel + "/x", exclude):
                dirnames.remove(name)
            elif link.is_symlink():
                dirnames.remove(name)
                if not link.resolve().is_relative_to(base):
                    yield Refused(rel, "symlink escapes the ingest root; copy the files in instead")
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(base).as_posix()
            if not matches(rel, include) or matches(rel, exclude):
                continue
            resolved = path.resolve()
            if not resolved.is_relative_to(base):
                yield Refused(rel, "symlink escapes the ingest root; copy the file in instead")
            elif not resolved.is_file():
                yield Refused(rel, "not a regular file (broken link or device)")
            else:
                yield Candidate(path=resolved, relative=rel)
