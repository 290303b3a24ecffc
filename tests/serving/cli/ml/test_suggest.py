"""`ragline ml suggest` on real tables (UCI Adult as CSV, COMPAS as Parquet): what it prints,
the config it writes (loadable by `ragline ml train`'s loader), and exit 2 with a fix on bad
input or an existing --out."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ragline.mltrack.data.datasets import load_adult, load_compas
from ragline.mltrack.tabular.config import load_train_config
from ragline.serving.cli.ml.suggest import suggest_command

pytestmark = pytest.mark.unit

app = typer.Typer()
ml_app = typer.Typer()
ml_app.command("suggest")(suggest_command)  # as the lead registers it on ragline's ml_app
app.add_typer(ml_app, name="ml")


@app.callback()
def _root() -> None:
    """A stand-in for ragline's root app."""


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["ml", "suggest", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def adult_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "adult.csv"
    load_adult().sample(n=5000, random_state=0).to_csv(path, index=False)
    return path


def test_suggest_prints_the_profile_and_decisions_and_writes_a_loadable_config(
    adult_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "configs" / "ml" / "starter.yaml"
    code, stdout, stderr = run(adult_csv, "--target", "income", "--out", out)
    assert code == 0, stderr
    assert "5,000 rows, target 'income', task classification" in stdout
    assert "start with: lightgbm with early stopping" in stdout
    assert "5,000 rows < 10,000: nets over-fit" in stdout
    assert "accuracy as the metric" in stdout and "critical knobs" in stdout
    assert f"wrote {out} (lightgbm" in stdout
    config = load_train_config(out)
    assert config.data.path.resolve() == adult_csv.resolve()  # relative to the config's folder
    assert (config.data.target, config.model.kind, config.split.kind) == (
        "income",
        "lightgbm",
        "stratified",
    )
    assert config.model.params["num_leaves"] == 15  # fewer than 10,000 rows


def test_an_existing_config_is_kept_unless_forced(adult_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "starter.yaml"
    out.write_text("# mine\n")
    code, _, stderr = run(adult_csv, "--target", "income", "--out", out)
    assert code == 2 and "pass --force to overwrite" in stderr
    assert out.read_text() == "# mine\n"
    code, _, stderr = run(adult_csv, "--target", "income", "--out", out, "--force")
    assert code == 0, stderr
    assert out.read_text().startswith("# starter config written by `ragline ml suggest`")


def test_compas_parquet_gets_target_encoding_for_the_charge(tmp_path: Path) -> None:
    data = tmp_path / "compas.parquet"
    load_compas().to_parquet(data)
    out = tmp_path / "compas.yaml"
    code, stdout, stderr = run(data, "--target", "two-year-recid", "--out", out)
    assert code == 0, stderr
    assert "one-hot on c-charge-desc" in stdout
    encodings = {
        c: spec.encoding
        for spec in load_train_config(out).features.categorical
        for c in spec.columns
    }
    assert encodings["c-charge-desc"] == "target"


def test_a_regression_task_can_be_forced(adult_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "hours.yaml"
    code, stdout, stderr = run(adult_csv, "--target", "hours-per-week", "--task", "regression",
                               "--out", out)  # fmt: skip
    assert code == 0, stderr
    assert "task regression" in stdout
    assert load_train_config(out).metrics.primary in ("rmse", "mae")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "salary"), "'salary' is not a column"),
        (("--target", "income", "--task", "ranking"), "--task 'ranking'"),
        (("--target", "education"), "16 classes"),
    ],
)
def test_bad_input_exits_2_with_the_fix(
    adult_csv: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, stderr = run(adult_csv, *args, "--out", tmp_path / "x.yaml")
    assert code == 2 and message in stderr, stderr
    assert not (tmp_path / "x.yaml").exists()


def test_a_missing_table_exits_2(tmp_path: Path) -> None:
    code, _, stderr = run(tmp_path / "nope.csv", "--target", "y", "--out", tmp_path / "x.yaml")
    assert code == 2 and "does not exist" in stderr


BRIEF = """name: t
business_objective: mail likely high earners
success_metric: {description: share of letters to high earners, metric: roc_auc}
baseline: {description: married and a degree}
task_type: TASK
prediction: {target: income, consumer: the mailing job}
data: {available: [census extract], exclude_columns: [fnlwgt, not-in-table]}
ethics: {considerations: [income differs by sex]}
kill_criteria: [{kind: not_significant}]
"""


def test_a_brief_names_the_target_and_the_columns_to_leave_out(
    adult_csv: Path, tmp_path: Path
) -> None:
    brief = tmp_path / "brief.yaml"
    brief.write_text(BRIEF.replace("TASK", "binary_classification"))
    out = tmp_path / "starter.yaml"
    code, stdout, stderr = run(adult_csv, "--brief", brief, "--out", out)
    assert code == 0, stderr
    assert f"  - fnlwgt: data.exclude_columns of {brief}" in stdout
    assert "# left out: fnlwgt" in out.read_text()
    config = load_train_config(out)
    assert config.data.target == "income"
    assert "fnlwgt" not in {c for g in config.features.numeric for c in g.columns}
    brief.write_text(BRIEF.replace("TASK", "ranking"))
    code, _, stderr = run(adult_csv, "--brief", brief, "--out", out, "--force")
    assert code == 2 and "task_type ranking" in stderr
    code, _, stderr = run(adult_csv, "--out", out, "--force")
    assert code == 2 and "--target COLUMN" in stderr


def test_suggest_says_when_the_quality_gate_will_refuse_the_table(tmp_path: Path) -> None:
    # issue 21 (B5): 400 rows score 17/30 (volume 2/5); train refused what suggest sent it to
    from ragline.mltrack.config import MltrackConfig
    from ragline.mltrack.errors import QualityTooLow
    from ragline.mltrack.tabular.jobs import check_quality

    small = tmp_path / "small.csv"
    load_adult().sample(n=400, random_state=0).to_csv(small, index=False)
    out = tmp_path / "starter.yaml"
    code, stdout, stderr = run(small, "--target", "income", "--out", out)
    assert code == 1, stdout
    assert "next: ragline ml train" not in stdout and f"wrote {out}" in stdout
    assert "would refuse this table: data quality 17/30 is under the threshold 18" in stderr
    assert "volume 2/5 (400 rows (min 1000)" in stderr
    header = out.read_text()
    assert "# `ragline ml train` refuses this table now: data quality 17/30" in header
    assert "ragline ml train THIS.yaml" not in header
    with pytest.raises(QualityTooLow, match="17/30"):  # what training then does
        check_quality(load_train_config(out), MltrackConfig(), force=False)
