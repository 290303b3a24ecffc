"""`ragline monitor drift` on real CSV and Parquet files: exit codes 0, 1 and 2, table and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from ragline.serving.cli.monitor import monitor_app

pytestmark = pytest.mark.unit

app = typer.Typer()
app.add_typer(monitor_app, name="monitor")


@app.callback()
def _root() -> None:
    """A stand-in for ragline's root app."""


def _tables(tmp_path: Path, shift: float) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    rows = 2000
    ref = pd.DataFrame(
        {"age": rng.normal(40, 10, rows), "plan": rng.choice(["free", "pro"], rows, p=[0.7, 0.3])}
    )
    cur = pd.DataFrame(
        {
            "age": rng.normal(40 + shift * 10, 10, rows),
            "plan": rng.choice(["free", "pro"], rows, p=[0.7, 0.3]),
        }
    )
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return tmp_path / "ref.parquet", tmp_path / "cur.csv"


def _run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["monitor", "drift", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_same_distribution_exits_0(tmp_path: Path) -> None:
    code, stdout, _ = _run(*_tables(tmp_path, shift=0.0))
    assert code == 0, stdout
    assert "age" in stdout and "plan" in stdout and "categorical" in stdout
    assert "2000 reference / 2000 current rows, 2 columns" in stdout and ": ok" in stdout


def test_critical_drift_exits_1(tmp_path: Path) -> None:
    code, stdout, _ = _run(*_tables(tmp_path, shift=1.0))
    assert code == 1
    assert "critical" in stdout


def test_json_and_options(tmp_path: Path) -> None:
    ref, cur = _tables(tmp_path, shift=0.4)
    code, stdout, _ = _run(ref, cur, "--columns", "age", "--json")
    report = json.loads(stdout)
    assert [f["name"] for f in report["features"]] == ["age"]
    assert report["features"][0]["severity"] == "warning" and code == 0
    code, stdout, _ = _run(ref, cur, "--columns", "age", "--json", "--psi-critical", "0.15")
    assert json.loads(stdout)["severity"] == "critical" and code == 1


def test_bad_input_exits_2(tmp_path: Path) -> None:
    ref, cur = _tables(tmp_path, shift=0.0)
    code, _, stderr = _run(ref, tmp_path / "nope.csv")
    assert code == 2 and "does not exist" in stderr
    code, _, stderr = _run(ref, cur, "--columns", "age,income")
    assert code == 2 and "income" in stderr
    code, _, stderr = _run(ref, cur, "--psi-warning", "0.5", "--psi-critical", "0.2")
    assert code == 2 and "swap" in stderr
    (tmp_path / "x.json").write_text("{}")
    code, _, stderr = _run(ref, tmp_path / "x.json")
    assert code == 2 and "unknown format" in stderr
