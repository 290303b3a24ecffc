"""The usage examples in the tabular modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytestmark = pytest.mark.unit

MODULES = [
    "artifacts",
    "baselines",
    "config",
    "data",
    "evaluate",
    "features",
    "models",
    "pyfunc",
    "split",
    "temporal",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"ragline.mltrack.tabular.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
