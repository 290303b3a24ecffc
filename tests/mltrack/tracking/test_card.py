"""Model cards: a LightGBM trained on 5,000 rows of UCI Adult through a real Tracker (SQLite),
registered and promoted, gets a card whose numbers are report.json's; and the pure renderer
says "not recorded" / "not declared" instead of inventing what nobody measured."""

from __future__ import annotations

import dataclasses
import doctest
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.errors import MltrackError
from ragline.mltrack.tabular import load_train_config, train
from ragline.mltrack.tracking import card
from ragline.mltrack.tracking.artifacts import Feature
from ragline.mltrack.tracking.card import (
    CardInputs,
    CardSpec,
    DataChecks,
    gather_card_inputs,
    render_card,
)
from ragline.mltrack.tracking.experiments import ExperimentPlan, MetricValue, Tracker
from ragline.mltrack.tracking.gates import GateInputs, PrimaryMetric
from ragline.mltrack.tracking.registry import AuditEntry, ModelRegistry, ModelVersionInfo
from tests.mltrack.conftest import Backend

# MLflow's SQLAlchemy models use a loader strategy SQLAlchemy 2.1 deprecates
MLFLOW_WARNINGS = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")

CONFIG = """
data: {{path: {path}, target: income, task: classification, positive_label: ">50K",
        protected: sex}}
split: {{kind: stratified, test_size: 0.2, valid_size: 0.2, seed: 0}}
features:
  numeric: [{{columns: [age, hours-per-week, education-num, capital-gain, capital-loss]}}]
  categorical:
    - {{columns: [workclass, marital-status, relationship, race, sex], encoding: onehot}}
    - {{columns: [occupation, education], encoding: target, folds: 3}}
model: {{kind: lightgbm, rounds: 30, early_stopping: 5, threads: 1}}
tune: {{trials: 0}}
metrics: {{resamples: 100, seed: 0}}
experiment:
  hypothesis: a small LightGBM beats the majority class on Adult
  intended_use: Demonstrate model cards on public census data.
  limitations: ["US census of 1994: incomes and categories are dated"]
"""


@pytest.fixture(scope="module")
def adult_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5,000 seeded rows of UCI Adult, the target as "<=50K"/">50K" strings."""
    frame = load_adult().sample(5_000, random_state=0).reset_index(drop=True)
    frame["income"] = np.where(frame["income"] == 1, ">50K", "<=50K")
    path = tmp_path_factory.mktemp("adult") / "adult.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.integration
@pytest.mark.slow
@MLFLOW_WARNINGS
def test_card_of_a_registered_adult_model(
    sqlite_backend: Backend, adult_csv: Path, tmp_path: Path
) -> None:
    config_path = tmp_path / "adult.yaml"
    config_path.write_text(CONFIG.format(path=adult_csv), "utf-8")
    config = load_train_config(config_path)
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    plan = ExperimentPlan(config.experiment.hypothesis, "sha256:adult5000", "lightgbm", actor="ana")
    with tracker.start_run(plan) as run:
        result = train(config, run, tmp_path / "out")
        auc = result.metrics["roc_auc"]
        assert auc.value is not None
        run.finish("iterate", MetricValue("roc_auc", auc.value, auc.ci_low, auc.ci_high))
    registry, name = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir), "adult"
    registry.register(name, result.artifact_dir, run_id=run.run_id, actor="ana", command="reg")
    assert auc.ci_low is not None and auc.ci_high is not None
    evidence = GateInputs(PrimaryMetric("roc_auc", candidate_ci=(auc.ci_low, auc.ci_high)))
    registry.promote(name, 1, "staging", evidence, actor="ben", command="promote", force=True)

    inputs = gather_card_inputs(registry, tracker, name, "staging")
    text = render_card(inputs)
    assert render_card(gather_card_inputs(registry, tracker, name, 1)) == text
    report = json.loads(result.report_path.read_text("utf-8"))
    assert inputs.report == report

    m = report["metrics"]["roc_auc"]
    ci = f"[{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
    assert f"| roc_auc (primary) | {m['value']:.4f} | {ci} | {m['measured']} |" in text
    assert "| metric | value | 95% CI | rows |" in text
    fair = report["fairness"]
    assert f"disparate impact (min/max selection rate): {fair['disparate_impact']:.4f}" in text
    eod = fair["equal_opportunity_difference"]
    assert f"equal-opportunity difference (max - min TPR): {eod:.4f}" in text
    rule = "passes" if fair["passes_80_rule"] else "FAILS"
    assert f"{rule} the 80% rule" in text
    for group in fair["groups"]:
        assert f"| {group['group']} | {group['count']} | {group['positives']} |" in text
    rate = sum(g["positives"] for g in fair["groups"]) / sum(g["count"] for g in fair["groups"])
    assert f"- positive rate: {rate:.4f} (test split)" in text
    assert f"ECE over 10 bins): {report['calibration']['ece']:.4f}" in text
    split = report["split"]
    sizes = f"train {split['train']:,}, valid {split['valid']:,}, test {split['test']:,}"
    assert f"- rows: {sizes} (stratified split)" in text

    delta = report["delta"]["roc_auc"]
    assert f"{delta['delta']:.4f} [{delta['ci_low']:.4f}, {delta['ci_high']:.4f}] (better)" in text

    assert text.startswith("# Model card: adult version 1\n")
    assert "- stage: staging" in text and "- format: lightgbm-text" in text
    assert f"- experiment: {run.exp_id}" in text and "- verdict: iterate" in text
    assert "- dataset version: sha256:adult5000" in text and "- target: income" in text
    assert "- positive label: >50K" in text and "- verdict: iterate" in text
    assert "## Intended use\nDemonstrate model cards on public census data." in text
    assert "## Out of scope\n_Not declared._ Add `experiment.out_of_scope`" in text
    assert "- US census of 1994: incomes and categories are dated" in text
    assert "Binary classification only: scores P(income = >50K)." in text
    assert "- data quality: not recorded" in text  # trained outside `ragline ml train`
    assert "Not recorded for this run" in text  # leakage
    history = text.split("## Stage history")[1].split("## Limitations")[0]
    assert "| register | - | development | ana | lightgbm-text, " in history
    assert "| promote | development | staging | ben | FORCED past " in history
    assert len([line for line in history.splitlines() if line.startswith("| 20")]) == 2
    registry.close()
    tracker.close()


def _version(stage: str | None = "staging") -> ModelVersionInfo:
    signature = (Feature("tenure", "float64"), Feature("plan", "float64"))
    return ModelVersionInfo("churn", 2, stage, None, "file:///m", "lightgbm-text", signature)


def _entry(i: int, version: int, action: str, to_stage: str | None) -> AuditEntry:
    ts = datetime(2026, 11, 20 + i, 9, 30, tzinfo=UTC)
    return AuditEntry(i, "churn", version, None, to_stage, action, "ana", "cmd", "why\nmore", ts)


REPORT: dict[str, object] = {
    "primary": "roc_auc",
    "metrics": {
        "roc_auc": {"value": 0.81, "measured": 200, "ci_low": 0.79, "ci_high": 0.83},
        "f1": {"value": None, "measured": 0, "ci_low": None, "ci_high": None},
    },
    "split": {"train": 600, "valid": 200, "test": 200, "kind": "temporal"},
}


@pytest.mark.unit
def test_absent_values_are_said_to_be_absent() -> None:
    history = (_entry(1, 1, "register", "development"), _entry(2, 2, "register", "development"))
    text = render_card(CardInputs(_version(), None, REPORT, history))

    assert "## Intended use\n_Not declared._ Add `experiment.intended_use`" in text
    assert "- owner: not declared: add experiment.owner to the config" in text
    assert "## Fairness\nNot measured: no protected attribute" in text
    assert "- Fairness not measured: no protected attribute." in text
    assert "- No experiment record: hypothesis, dataset version and verdict" in text
    assert "- _None declared._ Add `experiment.limitations`" in text
    assert "- dataset version: not recorded" in text and "- verdict: not recorded" in text
    assert "| roc_auc (primary) | 0.8100 | [0.7900, 0.8300] | 200 |" in text
    assert "| f1 | not recorded | not computed | 0 |" in text
    assert "| metric | value | CI (level not recorded) | rows |" in text
    assert "Expected calibration error (ECE): not recorded" in text
    assert "- positive rate: not recorded" in text and "- kind: not recorded" in text
    assert "disparate impact" not in text and "Binary classification" not in text
    assert "random split" not in text  # a temporal split tests on later data
    assert "- model - baseline (roc_auc, CI (level not recorded)): not recorded" in text
    # only this version's audit rows, first line of the reason
    assert "| 2026-11-22 09:30 UTC | register | - | development | ana | why |" in text
    assert "2026-11-21" not in text

    bare = render_card(CardInputs(_version(None), None, {}, ()))
    assert "- stage: none (archived)" in bare
    assert "No report.json: metrics, calibration and fairness were not recorded." in bare
    assert "MLflow pyfunc" not in bare  # a version registered as a bare model folder


@pytest.mark.unit
def test_a_pyfunc_version_says_how_mlflow_loads_it() -> None:
    version = dataclasses.replace(_version(), pyfunc=True)
    text = render_card(CardInputs(version, None, {}, ()))
    assert '- MLflow pyfunc: `mlflow.pyfunc.load_model("models:/churn/2")`\n' in text


def _group(name: str, count: int, selected: int, small: bool = False) -> dict[str, object]:
    return {"group": name, "count": count, "positives": count // 4, "selected": selected,
            "selection_rate": selected / count, "tpr": 0.7, "fpr": 0.1, "accuracy": 0.8,
            "too_small": small}  # fmt: skip


@pytest.mark.unit
def test_fairness_quality_leakage_and_declared_text() -> None:
    fairness = {
        "groups": [_group("F", 100, 10), _group("M", 200, 40), _group("X", 5, 1, small=True)],
        "disparate_impact": 0.5,
        "passes_80_rule": False,
        "equal_opportunity_difference": 0.12,
        "min_count": 30,
        "excluded": ["X"],
    }
    report = REPORT | {"fairness": fairness, "split": {"kind": "stratified"}}
    spec = CardSpec(intended_use="Rank accounts for a retention call.", owner="growth-ml")
    checks = DataChecks({"completeness": 5, "volume": 4}, quality_forced=True, leakage=("oops",))
    text = render_card(CardInputs(_version(), None, report, (), spec, checks))

    assert "## Intended use\nRank accounts for a retention call." in text
    assert "- owner: growth-ml" in text
    assert "| X | 5 | 1 | 0.2000 | 0.7000 | 0.1000 | 0.8000 | too small: left out |" in text
    assert "disparate impact (min/max selection rate): 0.5000: FAILS the 80% rule" in text
    assert "- Groups too small to judge fairness: X (under 30 test rows)." in text
    assert "- Disparate impact 0.5000 fails the 80% rule." in text
    assert "Tested on a stratified random split" in text
    assert "Data quality 9/30 (FORCED below the threshold):" in text
    assert "| accuracy | not recorded |" in text  # a dimension nobody scored
    assert "1 finding(s):\n\n- oops" in text


@pytest.mark.unit
def test_card_spec_reads_the_logged_experiment_params() -> None:
    params = {"experiment.intended_use": "x", "experiment.limitations": "[]", "data.target": "y"}
    assert CardSpec.from_params(params) == CardSpec(intended_use="x")
    assert CardSpec.from_params({"experiment.out_of_scope": None}) == CardSpec()
    assert doctest.testmod(card).failed == 0


@pytest.mark.integration
@MLFLOW_WARNINGS
def test_card_of_a_version_whose_run_kept_no_report(
    sqlite_backend: Backend, model_folder: Path
) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(ExperimentPlan("tiny", "sha256:0", "lightgbm", actor="ana")) as run:
        pass
    registry = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir)
    registry.register("tiny", model_folder, run_id=run.run_id, actor="ana")

    inputs = gather_card_inputs(registry, tracker, "tiny", "development")
    assert (
        inputs.report == {} and inputs.model_file is None
    )  # not ragline.mltrack.tabular's model.json
    assert inputs.experiment is not None and inputs.experiment.id == run.exp_id
    text = render_card(inputs)
    assert "- No report.json: metrics, calibration and fairness were not recorded." in text
    assert "- kind: not recorded" in text and "| tenure | float64 |" in text
    with pytest.raises(MltrackError, match="tiny has no production version"):
        gather_card_inputs(registry, tracker, "tiny", "production")
    with pytest.raises(ValueError, match="expected a version number or one of"):
        gather_card_inputs(registry, tracker, "tiny", "latest")
    registry.close()
    tracker.close()
