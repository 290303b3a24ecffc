"""The directory walk: glob filters, sorted order, and links that leave the ingest root."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.rag.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from ragline.rag.loaders import Candidate, Refused, walk
from ragline.rag.loaders.walk import matches

pytestmark = pytest.mark.unit


def tree(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"text of {name}\n")
    return root


def walked(
    root: Path,
    include: tuple[str, ...] = DEFAULT_INCLUDE,
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
) -> list[str]:
    """Relative names of candidates, and 'refused:<name>' for refusals, in walk order."""
    return [
        item.relative if isinstance(item, Candidate) else f"refused:{item.path}"
        for item in walk(root, include, exclude)
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.md", "a.md", True),
        ("**/*.md", "docs/deep/a.md", True),
        ("**/*.md", "a.txt", False),
        ("*.md", "a.md", True),
        ("*.md", "docs/a.md", False),
        ("docs/**", "docs/a/b/c.txt", True),
        ("docs/**", "other/docs/a.txt", False),
        ("docs/**/z.md", "docs/z.md", True),
        ("docs/**/z.md", "docs/x/y/z.md", True),
        ("?.md", "a.md", True),
        ("?.md", "ab.md", False),
        ("**/.git/**", ".git/config", True),
        ("**/*.MD", "readme.md", True),  # case-insensitive, like most file systems users meet
        ("a+b.md", "a+b.md", True),  # regex characters are literal
        ("a+b.md", "aab.md", False),
    ],
)
def test_glob_patterns(pattern: str, path: str, expected: bool) -> None:
    assert matches(path, [pattern]) is expected


def test_default_globs_pick_documents_and_skip_tool_folders(tmp_path: Path) -> None:
    tree(
        tmp_path,
        "a.md", "b.txt", "c.log", "docs/guide.html", "docs/deep/manual.pdf", "data/rows.jsonl",
        ".git/HEAD.md", "node_modules/pkg/readme.md", "docs/.venv/lib/x.txt",
        "src/__pycache__/m.txt", ".ragline/state.md",
    )  # fmt: skip

    assert walked(tmp_path) == [
        "a.md", "b.txt", "data/rows.jsonl", "docs/deep/manual.pdf", "docs/guide.html",
    ]  # fmt: skip


def test_custom_include_and_exclude(tmp_path: Path) -> None:
    tree(tmp_path, "top.md", "docs/a.md", "docs/drafts/b.md", "docs/c.txt", "notes/d.md")

    assert walked(tmp_path, ("docs/**/*.md",), ()) == ["docs/a.md", "docs/drafts/b.md"]
    assert walked(tmp_path, ("*.md",), ()) == ["top.md"]
    assert walked(tmp_path, ("**/*.md",), ("**/drafts/**", "notes/*")) == ["docs/a.md", "top.md"]


def test_order_is_sorted_by_relative_path_whatever_the_creation_order(tmp_path: Path) -> None:
    tree(tmp_path, "z.md", "b/y.md", "a.md", "b/a/x.md", "B.md", "aa/c.md")

    names = walked(tmp_path)

    assert names == sorted(names)
    assert names == ["B.md", "a.md", "aa/c.md", "b/a/x.md", "b/y.md", "z.md"]
    assert walked(tmp_path) == names


def test_candidates_carry_resolved_paths(tmp_path: Path) -> None:
    tree(tmp_path, "docs/a.md")
    (candidate,) = list(walk(tmp_path / "docs" / ".." / "docs", DEFAULT_INCLUDE, ()))
    assert candidate == Candidate(path=(tmp_path / "docs" / "a.md").resolve(), relative="a.md")


def test_symlinked_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", "inside.md")
    secret = tree(tmp_path / "elsewhere", "secret.md") / "secret.md"
    (root / "leak.md").symlink_to(secret)

    items = list(walk(root, DEFAULT_INCLUDE, ()))

    assert [i.relative for i in items if isinstance(i, Candidate)] == ["inside.md"]
    (refused,) = [i for i in items if isinstance(i, Refused)]
    assert refused.path == "leak.md"
    assert "escapes the ingest root" in refused.reason


def test_symlinked_directory_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", "inside.md")
    outside = tree(tmp_path / "elsewhere", "a.md", "b/c.md")
    (root / "more").symlink_to(outside, target_is_directory=True)

    items = list(walk(root, DEFAULT_INCLUDE, ()))

    assert [i.relative for i in items if isinstance(i, Candidate)] == ["inside.md"]
    (refused,) = [i for i in items if isinstance(i, Refused)]
    assert refused.path == "more"
    assert "copy the files in" in refused.reason


def test_symlink_inside_the_root_to_a_file_inside_is_read(tmp_path: Path) -> None:
    root = tree(tmp_path, "archive/2024-notes.md.bak")
    (root / "notes.md").symlink_to(root / "archive" / "2024-notes.md.bak")

    assert list(walk(root, DEFAULT_INCLUDE, ())) == [
        Candidate(path=(root / "archive" / "2024-notes.md.bak").resolve(), relative="notes.md")
    ]


def test_file_reached_through_a_link_and_its_own_name_is_read_once(tmp_path: Path) -> None:
    # Two candidates with one source path would overwrite each other's chunks in the store.
    root = tree(tmp_path, "docs/guide.md")
    (root / "a-link.md").symlink_to(root / "docs" / "guide.md")
    (root / "b-link.md").symlink_to(root / "docs" / "guide.md")

    items = list(walk(root, DEFAULT_INCLUDE, ()))

    candidates = [i for i in items if isinstance(i, Candidate)]
    assert [c.relative for c in candidates] == ["docs/guide.md"]
    refused = [i for i in items if isinstance(i, Refused)]
    assert [r.path for r in refused] == ["a-link.md", "b-link.md"]
    assert all("same file as docs/guide.md" in r.reason for r in refused)


def test_symlinked_directory_inside_the_root_is_not_walked_twice(tmp_path: Path) -> None:
    root = tree(tmp_path, "real/a.md")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert walked(root) == ["real/a.md"]


def test_broken_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gone.md").symlink_to(tmp_path / "missing.md")
    assert walked(tmp_path) == ["refused:gone.md"]


def test_single_file_root_is_taken_whatever_its_name(tmp_path: Path) -> None:
    path = tree(tmp_path, "sub/NOTES.log") / "sub" / "NOTES.log"
    assert list(walk(path, DEFAULT_INCLUDE, ("**/*.log",))) == [
        Candidate(path=path.resolve(), relative="NOTES.log")
    ]


def test_empty_directory_yields_nothing(tmp_path: Path) -> None:
    assert walked(tmp_path) == []
