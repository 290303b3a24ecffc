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
    """Files under `root` (or `root` itself) sorted by relative path; links leaving it are refused.

    A single file given as root is taken whatever its name; directories are filtered by the
    include and exclude globs, matched against paths relative to the root. A file reached
    twice (a link to a file that is read under its own name, or two links to one file) is
    read once: two documents with one source path would overwrite each other's chunks.
    """
    if root.is_file():
        yield Candidate(path=root.resolve(), relative=root.name)
        return
    found = sorted(_walk_tree(root.resolve(), include, exclude), key=_name)
    named = {f.path: f.relative for f in found if isinstance(f, _Found) and not f.link}
    taken: dict[Path, str] = {}
    for item in found:
        if not isinstance(item, _Found):
            yield item
            continue
        first = taken.get(item.path) or (named.get(item.path) if item.link else None)
        if first is not None and first != item.relative:
            yield Refused(item.relative, f"same file as {first} (a symlink); read once, as that")
            continue
        taken[item.path] = item.relative
        yield Candidate(path=item.path, relative=item.relative)


@dataclass(frozen=True, slots=True)
class _Found:
    path: Path
    relative: str
    link: bool


def _name(item: _Found | Refused) -> str:
    return item.relative if isinstance(item, _Found) else item.path


def _walk_tree(
    base: Path, include: Sequence[str], exclude: Sequence[str]
) -> Iterator[_Found | Refused]:
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        here = Path(dirpath)
        dirnames.sort()
        for name in list(dirnames):
            link = here / name
            rel = link.relative_to(base).as_posix()
            if matches(rel + "/", exclude) or matches(rel + "/x", exclude):
                dirnames.remove(name)
            elif link.is_symlink():
                dirnames.remove(name)  # a link inside the root: its files are walked anyway
                target = _resolve(link)
                if target is None:
                    yield Refused(rel, _LOOP)
                elif not target.is_relative_to(base):
                    yield Refused(rel, "symlink escapes the ingest root; copy the files in instead")
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(base).as_posix()
            if not matches(rel, include) or matches(rel, exclude):
                continue
            resolved = _resolve(path)
            if resolved is None:
                yield Refused(rel, _LOOP)
            elif not resolved.is_relative_to(base):
                yield Refused(rel, "symlink escapes the ingest root; copy the file in instead")
            elif not resolved.is_file():
                yield Refused(rel, "not a regular file (broken link or device)")
            else:
                yield _Found(path=resolved, relative=rel, link=path.is_symlink())


_LOOP = "symlink loop (the link leads back to itself); fix or remove the link"


def _resolve(path: Path) -> Path | None:
    """`path` resolved, or None for a symlink loop (RuntimeError before Python 3.13)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None
