"""Bad CLI inputs give a message and an exit code, never a traceback.

Each command runs in-process through the Typer app (as `ragline ...` would) with a fresh data dir;
an uncaught exception (what a user would see as a traceback) fails the test. Prints the figure:
tracebacks over the bad inputs tried.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.serving.cli.app import app

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def bad_inputs(tmp: Path) -> list[list[str]]:
    (tmp / "bad-suite.yaml").write_text("name: x\ndataset: [1\n")
    (tmp / "bad-config.yaml").write_text("not: [valid\n")
    (tmp / "loop").mkdir()
    (tmp / "loop" / "self").symlink_to(tmp / "loop" / "self")
    return [
        ["ingest", str(tmp / "nonexistent")],
        ["ingest", str(tmp / "loop")],
        ["ingest", str(tmp), "--collection", "bad name"],
        ["ingest", str(tmp), "--engine", "spark"],
        ["ingest", str(tmp), "--engine", "ray", "--actors", "0"],
        ["search", "q", "--collection", "missing"],
        ["search", "q", "--k", "0"],
        ["ask", "", "--collection", "missing"],
        ["eval", str(tmp / "nope.yaml")],
        ["eval", str(tmp / "bad-suite.yaml")],
        ["eval", str(tmp / "nope.yaml"), "--engine", "ray", "--actors", "0"],
        ["ml", "score", "nomodel", str(tmp / "x.parquet"), str(tmp / "o.parquet")],
        ["ml", "score", "nomodel", str(tmp / "x.parquet"), str(tmp / "o.parquet"), "--engine", "x"],
        ["ml", "train", str(tmp / "nope.yaml")],
        ["ml", "promote", "x", "1", "--to", "nowhere"],
        ["costs", "report", "--since", "garbage"],
        ["--config", str(tmp / "nope.yaml"), "collections"],
        ["--config", str(tmp / "bad-config.yaml"), "collections"],
        ["store", "snapshot", "--collection", "missing"],
        ["delete", "--collection", "missing", "--all"],
        ["chat", "hello", "--model", "nosuch:model"],
        ["abtest", "size", "--baseline", "2"],
    ]


def test_bad_inputs_give_messages_not_tracebacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    tracebacks, codes = [], []
    inputs = bad_inputs(tmp_path)
    for args in inputs:
        result = runner.invoke(app, args)
        codes.append(result.exit_code)
        if not isinstance(result.exception, SystemExit | None):
            tracebacks.append(f"{' '.join(args)}: {result.exception!r}")
    print(f"tracebacks: {len(tracebacks)} over {len(inputs)} bad inputs; exit codes {codes}")
    assert tracebacks == []
    assert all(code in (1, 2) for code in codes), codes
