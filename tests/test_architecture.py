"""The house rules: one import root, a cheap `import ragline`, no import cycles, small modules,
no `# fmt: skip` packing in src/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
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
    """Under 0.5 s, and neither the import nor naming the library's entry points (resolving
    `ragline.Pipeline` imports the application layer) loads torch or an engine."""
    code = (
        "import sys, time; started = time.perf_counter(); import ragline; "
        "seconds = time.perf_counter() - started; ragline.Pipeline; ragline.Router; "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "print(ragline.__version__, round(seconds, 4), heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    version, seconds, heavy = done.stdout.strip().split(" ", 2)
    assert version == ragline.__version__ and heavy == "[]"
    assert float(seconds) < 0.5
    assert ragline.load_settings.__module__ == "ragline.serving.settings"
    assert ragline.CostEvent.__module__ == "ragline.core.costs"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ragline.nope  # type: ignore[attr-defined]
    assert set(ragline.__all__) <= set(dir(ragline))


def test_no_import_cycles() -> None:
    """Lazy imports inside functions count too: a cycle is a cycle, wherever it is written."""
    graph = grimp.build_graph("ragline")
    edges = nx.DiGraph(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
    )
    cycles = [sorted(group) for group in nx.strongly_connected_components(edges) if len(group) > 1]
    assert cycles == []


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
