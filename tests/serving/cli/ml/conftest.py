"""The registered production Adult model the `ml score` and `ml errors` command tests read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.mltrack.tabular.scoring_model import register_adult_model


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose registry holds `scoring_model.MODEL` in production (one per module)."""
    return register_adult_model(tmp_path_factory.mktemp("cli-adult-model"))


@pytest.fixture
def runner(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose commands use `data_dir`."""
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    return CliRunner()
