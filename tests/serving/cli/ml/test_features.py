"""`ragline features ...` on the real Grunfeld panel (statsmodels): registry, Parquet, Redis."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from ragline.mltrack.features.data import grunfeld_events, grunfeld_labels
from ragline.mltrack.features.offline import materialize, point_in_time_join
from ragline.mltrack.features.registry import load_registry
from ragline.serving.cli.ml.features import features_app
from tests.paths import REPO

if TYPE_CHECKING:
    import redis

EXAMPLE = REPO / "configs" / "features" / "example.yaml"

app = typer.Typer()
app.add_typer(features_app, name="features")


@app.callback()
def _root() -> None:
    """A stand-in for ragline's root app."""


def _run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["features", *map(str, args)], env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: the example registry, the panel's events and labels as CSV."""
    shutil.copy(EXAMPLE, tmp_path / "features.yaml")
    grunfeld_events().to_csv(tmp_path / "events.csv", index=False)
    grunfeld_labels().to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


@pytest.mark.unit
def test_add_builds_a_registry_and_refuses_bad_names(tmp_path: Path) -> None:
    registry = tmp_path / "features.yaml"
    common = ["--registry", registry, "--owner", "ml", "--source-table", "grunfeld"]
    code, stdout, stderr = _run(
        "add",
        "firm_invest_all_mean",
        "--description",
        "mean invest",
        "--dtype",
        "float64",
        "--entity-key",
        "firm",
        "--timestamp-column",
        "ts",
        "--created",
        "2026-11-26",
        *common,
    )
    assert code == 0, stderr
    assert "added firm_invest_all_mean" in stdout
    assert "mean of grunfeld.invest over all history per firm, float64" in stdout
    assert "1 features in the registry" in stdout
    code, stdout, stderr = _run(
        "add",
        "firm_years_all_count",
        "--description",
        "years",
        "--dtype",
        "int64",
        "--source-column",
        "invest",
        "--known-issue",
        "none yet",
        *common,
    )
    assert code == 0, stderr
    assert "count of grunfeld.invest over all history" in stdout and "2 features" in stdout
    before = registry.read_bytes()
    code, _, stderr = _run(
        "add", "Firm_Invest_7days_sum", "--description", "x", "--dtype", "float64", *common
    )
    assert code == 2 and "'firm_invest_7days_sum'" in stderr
    code, _, stderr = _run(
        "add", "firm_invest_7d_mean", "--description", "x", "--dtype", "int64", *common
    )
    assert code == 2 and "set dtype: float64" in stderr
    code, _, stderr = _run(
        "add",
        "firm_invest_7d_sum",
        "--description",
        "x",
        "--dtype",
        "float64",
        *common[:-1],
        "other",
    )
    assert code == 2 and "give --entity-key and --timestamp-column" in stderr
    assert registry.read_bytes() == before  # refused adds leave the file alone
    loaded = load_registry(registry)
    assert loaded.names() == ["firm_invest_all_mean", "firm_years_all_count"]
    assert loaded.get("firm_years_all_count").known_issues == ("none yet",)


@pytest.mark.unit
def test_list_validate_catalog(project: Path) -> None:
    registry = ["--registry", project / "features.yaml"]
    code, stdout, _ = _run("list", *registry)
    assert code == 0 and "firm_invest_1000d_sum" in stdout and "grunfeld.invest" in stdout
    assert "8 features from 1 tables" in stdout
    code, stdout, _ = _run("validate", *registry)
    assert code == 0 and "grunfeld: entity key firm, time ts, 8 features" in stdout
    assert "is valid: 8 features" in stdout and "3 known issues" in stdout
    code, stdout, _ = _run("catalog", "--out", project / "catalog.md", *registry)
    assert code == 0 and "wrote the catalogue" in stdout
    text = (project / "catalog.md").read_text()
    assert text.count("\n| `firm_") == 8 and "Known issues:" in text
    code, stdout, _ = _run("catalog", *registry)
    assert code == 0 and stdout == text


@pytest.mark.unit
def test_validate_reports_a_broken_registry(project: Path) -> None:
    path = project / "features.yaml"
    path.write_text(path.read_text().replace("firm_value_all_max", "firm_value_all_median"))
    code, _, stderr = _run("validate", "--registry", path)
    assert code == 2 and "firm_value_all_median" in stderr and "end it with one of" in stderr
    code, _, stderr = _run("list", "--registry", project / "missing.yaml")
    assert code == 2 and "ragline features add" in stderr


@pytest.mark.unit
def test_materialize_then_join(project: Path) -> None:
    registry = ["--registry", project / "features.yaml"]
    code, stdout, stderr = _run(
        "materialize", project / "events.csv", "--out", project / "offline.parquet", *registry
    )
    assert code == 0, stderr
    assert "220 events of 11 firms -> 220 feature rows" in stdout and "x 8 features" in stdout
    code, stdout, stderr = _run(
        "join",
        project / "labels.csv",
        "--features",
        project / "offline.parquet",
        "--out",
        project / "train.csv",
        "--max-staleness",
        "200d",
    )
    assert code == 0, stderr
    assert "286 labels x 8 features: 264 got the latest feature row" in stdout
    assert "11 had none" in stdout and "11 older than 200d" in stdout
    train = pd.read_csv(project / "train.csv", parse_dates=["label_ts", "feature_ts"])
    expected = point_in_time_join(
        grunfeld_labels(),
        materialize(grunfeld_events(), load_registry(project / "features.yaml"), "grunfeld"),
        "label_ts",
        pd.Timedelta(days=200).to_pytimedelta(),
    ).frame
    assert len(train) == 286
    pd.testing.assert_series_equal(train["firm_invest_all_mean"], expected["firm_invest_all_mean"])
    assert (
        train["feature_ts"].dropna() <= train.loc[train["feature_ts"].notna(), "label_ts"]
    ).all()


@pytest.mark.unit
def test_bad_inputs_exit_2(project: Path) -> None:
    registry = ["--registry", project / "features.yaml"]
    pd.DataFrame({"firm": ["a"], "when": ["2024-01-01"]}).to_csv(project / "bad.csv", index=False)
    code, _, stderr = _run(
        "materialize", project / "bad.csv", "--out", project / "o.parquet", *registry
    )
    assert code == 2 and "lacks column(s) ts, invest, value, capital" in stderr
    code, _, stderr = _run(
        "materialize", project / "nope.csv", "--out", project / "o.parquet", *registry
    )
    assert code == 2 and "does not exist" in stderr
    code, _, stderr = _run(
        "join",
        project / "labels.csv",
        "--features",
        project / "events.csv",
        "--out",
        project / "t.parquet",
    )
    assert code == 2 and "cannot read" in stderr
    code, _, stderr = _run(
        "join",
        project / "labels.csv",
        "--features",
        project / "x.parquet",
        "--out",
        project / "t.parquet",
        "--max-staleness",
        "1y",
    )
    assert code == 2 and "use 30d or 365d" in stderr
    assert not (project / "o.parquet").exists() and not (project / "t.parquet").exists()


@pytest.mark.integration
def test_push_then_get_from_redis(
    project: Path, redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    registry = ["--registry", project / "features.yaml"]
    online = ["--redis-url", redis_url, "--prefix", redis_prefix, *registry]
    code, _, stderr = _run(
        "materialize", project / "events.csv", "--out", project / "offline.parquet", *registry
    )
    assert code == 0, stderr
    code, stdout, stderr = _run("push", project / "offline.parquet", *online)
    assert code == 0, stderr
    assert "pushed the latest of 220 feature rows: 11 firms x 8 features" in stdout
    code, stdout, stderr = _run("get", "General Motors", "--entity", "firm", *online)
    assert code == 0, stderr
    gm = grunfeld_events().query("firm == 'General Motors'")
    lines = {
        line.split()[1]: line.split()[3]
        for line in stdout.splitlines()
        if line.startswith("│ firm_")
    }
    assert float(lines["firm_invest_all_mean"]) == pytest.approx(gm["invest"].mean(), rel=1e-12)
    assert lines["firm_years_all_count"] == "20" and len(lines) == 8
    assert "8 features as of 1954-12-31 00:00:00, fresh; one HMGET in" in stdout
    code, stdout, _ = _run(
        "get",
        "General Motors",
        "--entity",
        "firm",
        "--features",
        "firm_invest_all_last",
        "--max-staleness",
        "30d",
        *online,
    )
    assert code == 0 and "stale (older than 30d), served empty" in stdout
    code, _, stderr = _run("get", "Nobody Inc", "--entity", "firm", *online)
    assert code == 1 and "holds no features" in stderr
    code, _, stderr = _run("get", "x", "--entity", "user", *online)
    assert code == 2 and "no feature of entity 'user'" in stderr


@pytest.mark.integration
def test_push_to_an_unreachable_redis_exits_2(project: Path) -> None:
    registry = ["--registry", project / "features.yaml"]
    _run("materialize", project / "events.csv", "--out", project / "offline.parquet", *registry)
    code, _, stderr = _run(
        "push", project / "offline.parquet", "--redis-url", "redis://127.0.0.1:1/0", *registry
    )
    assert code == 2 and "start Redis or pass the right --redis-url" in stderr
