"""The house rules: one import root, a cheap `import ragline`, no import cycles, small modules,
no `# fmt: skip` packing in src/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from setuptools import find_packages

import ragline
from tests.paths import REPO

pytestmark = pytest.mark.unit
SRC = REPO / "src"
HEAVY = ("torch", "sentence_transformers", "qdrant_edge", "mlflow", "fastapi", "llama_cpp")


def test_the_distribution_has_one_top_level_name() -> None:
    packages = find_packages(str(SRC), include=["ragline*"])
    everything = find_packages(str(SRC))
    assert "ragline" in packages and "ragline.core" in packages
    assert {p.split(".")[0] for p in everything} == {"ragline"}


def test_import_ragline_is_cheap_and_names_its_entry_points_lazily() -> None:
    code = (
        "import sys, ragline; "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "print(ragline.__version__, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    version, heavy = done.stdout.strip().split(" ", 1)
    assert version == ragline.__version__ and heavy == "[]"
    assert ragline.load_settings.__module__ == "ragline.serving.settings"
    assert ragline.CostEvent.__module__ == "ragline.core.costs"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ragline.nope  # type: ignore[attr-defined]
    assert set(ragline.__all__) <= set(dir(ragline))


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child)
                    work.append((child, iter(sorted(imported))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_import_cycles() -> None:
    """Lazy imports inside functions count too: a cycle is a cycle, wherever it is written."""
    assert _cycles(grimp.build_graph("ragline")) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert _cycles(graph) == [["a.b", "a.c"]]


def test_modules_are_small_and_not_packed() -> None:
    big, packed = [], []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 500:
            big.append(str(path.relative_to(SRC)))
        if "fmt: skip" in text or "fmt: off" in text:
            packed.append(str(path.relative_to(SRC)))
    assert big == [] and packed == []


def test_folders_hold_one_idea_each() -> None:
    """More than ~12 modules in one folder is several ideas (STYLE.md): give them subpackages.
    (13 is allowed: llm_router keeps its router and the parts the router is built from.)"""
    crowded = {
        str(folder.relative_to(SRC)): n
        for folder in SRC.rglob("*")
        if folder.is_dir()
        and (n := len([p for p in folder.glob("*.py") if p.name != "__init__.py"])) > 13
    }
    assert crowded == {}, crowded


def test_every_package_and_test_folder_mirror_each_other() -> None:
    """Tests mirror the packages: each subpackage of ragline has a test folder of its name."""
    missing = []
    for init in SRC.rglob("__init__.py"):
        package = init.parent.relative_to(SRC / "ragline")
        if package == Path(".") or package.name == "testing":
            continue
        if not (REPO / "tests" / package).is_dir():
            missing.append(str(package))
    assert missing == []
