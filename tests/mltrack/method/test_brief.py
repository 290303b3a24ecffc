"""ragline.mltrack.method.brief: the Adult example brief, refusals that name the key, and kill
criteria checked against numbers and against real experiments trained on UCI Adult."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.method.abtest_rule import AbTestRule
from ragline.mltrack.method.brief import (
    BriefError,
    KillCriterion,
    ProblemBrief,
    load_brief,
    write_brief_template,
)
from ragline.mltrack.method.kill import Evidence, check_kill_criteria, recorded_evidence
from ragline.mltrack.tabular.config import load_train_config
from ragline.mltrack.tabular.jobs import train_job
from ragline.mltrack.tracking.experiments import Tracker
from tests.mltrack.adult_config import NOISE_CONFIG, adult_config
from tests.mltrack.conftest import Backend
from tests.paths import REPO

pytestmark = pytest.mark.unit
EXAMPLE = REPO / "configs" / "briefs" / "adult-income.yaml"


def example() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return raw


def write(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def brief(
    metric: str = "roc_auc", baseline_value: float | None = None, **kill: float
) -> ProblemBrief:
    raw = example()
    raw["success_metric"]["metric"] = metric
    raw["baseline"]["metric_value"] = baseline_value
    raw["kill_criteria"] = [{"kind": k, "threshold": t} for k, t in kill.items()] or [
        {"kind": "not_significant"}
    ]
    return ProblemBrief.model_validate(raw)


def test_the_adult_example_is_a_valid_brief() -> None:
    loaded = load_brief(EXAMPLE)
    assert loaded.success_metric.metric == "roc_auc" and loaded.success_metric.higher
    assert loaded.task_type == "binary_classification"
    assert {c.kind for c in loaded.kill_criteria} >= {"baseline_ratio", "beats_random_by"}
    assert isinstance(loaded.ab_test, AbTestRule)
    assert loaded.ab_test.guardrails[0].metric == "unsubscribed"
    # a relative table path is read next to the brief, wherever the command runs
    assert loaded.data.path == EXAMPLE.parents[2] / ".ragline" / "datasets" / "adult.csv"


def test_the_template_is_refused_until_metric_and_baseline_are_filled(tmp_path: Path) -> None:
    path = write_brief_template(tmp_path / "brief.yaml")
    with pytest.raises(BriefError) as info:
        load_brief(path)
    message = str(info.value)
    assert "success_metric.description: empty" in message
    assert "baseline.description: empty" in message
    assert "business_objective" in message
    with pytest.raises(BriefError, match="exists"):
        write_brief_template(path)
    # filling in the blanks with the example's values makes it valid
    raw = yaml.safe_load(path.read_text())
    template_keys = set(raw)
    assert template_keys <= set(ProblemBrief.model_fields)
    load_brief(write(path, {**raw, **example()}))


@pytest.mark.parametrize("key", ["success_metric", "baseline"])
@pytest.mark.parametrize("empty", [None, "", {}])
def test_an_empty_success_metric_or_baseline_is_refused(
    tmp_path: Path, key: str, empty: object
) -> None:
    raw = example() | {key: empty}
    with pytest.raises(BriefError, match=rf"(?m)^  {key}: empty; \w+"):
        load_brief(write(tmp_path / "b.yaml", raw))


def test_a_blank_metric_name_is_refused_with_an_example(tmp_path: Path) -> None:
    raw = example()
    raw["success_metric"]["metric"] = "  "
    with pytest.raises(BriefError, match=r"success_metric\.metric: empty; .*roc_auc"):
        load_brief(write(tmp_path / "b.yaml", raw))


def test_a_baseline_can_be_one_line_of_text(tmp_path: Path) -> None:
    loaded = load_brief(write(tmp_path / "b.yaml", example() | {"baseline": "mail everyone"}))
    assert loaded.baseline.description == "mail everyone" and loaded.baseline.metric_value is None


def test_typos_unknown_metrics_and_loose_latency_are_named(tmp_path: Path) -> None:
    raw = example() | {"kill_criterion": []}
    raw["success_metric"]["metric"] = "lift_at_10"
    raw["latency"] = {"mode": "online"}
    with pytest.raises(BriefError) as info:
        load_brief(write(tmp_path / "b.yaml", raw))
    message = str(info.value)
    assert "kill_criterion: Extra inputs are not permitted" in message
    assert "success_metric.higher_is_better: 'lift_at_10'" in message
    assert "latency.p95_ms: online predictions need a latency bound" in message


def test_kill_criteria_need_thresholds_and_at_least_one_entry(tmp_path: Path) -> None:
    raw = example() | {"kill_criteria": [{"kind": "baseline_ratio"}]}
    with pytest.raises(BriefError, match=r"kill_criteria\.0\.threshold: baseline_ratio needs"):
        load_brief(write(tmp_path / "b.yaml", raw))
    with pytest.raises(BriefError, match=r"kill_criteria: "):
        load_brief(write(tmp_path / "b.yaml", example() | {"kill_criteria": []}))


def test_not_yaml_and_missing_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BriefError, match="ragline frame"):
        load_brief(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(BriefError, match="not valid YAML"):
        load_brief(tmp_path / "bad.yaml")
    with pytest.raises(BriefError, match="cannot read it"):
        load_brief(tmp_path)  # a folder
    with pytest.raises(BriefError, match="cannot write"):
        write_brief_template(tmp_path / "no" / "such" / "folder.yaml")


def statuses(b: ProblemBrief, *evidence: Evidence) -> dict[str, str]:
    return {c.criterion.kind: c.status for c in check_kill_criteria(b, evidence).checks}


AUC = Evidence("EXP-2026-11-26-001", "roc_auc", 0.90, 0.5, "majority", (0.36, 0.44))


def test_a_strong_model_meets_no_kill_criterion() -> None:
    b = brief(baseline_ratio=0.9, beats_random_by=0.1, metric_below=0.8)
    assert statuses(b, AUC) == dict.fromkeys(("baseline_ratio", "beats_random_by"), "not_met") | {
        "metric_below": "not_met"
    }


def test_the_brief_baseline_close_to_the_model_meets_baseline_ratio() -> None:
    report = check_kill_criteria(brief(baseline_value=0.85, baseline_ratio=0.9), [AUC])
    [check] = report.checks
    assert check.status == "met"
    assert "94.4%" in check.reason and "the brief's baseline" in check.reason


def test_a_model_near_chance_meets_beats_random_by() -> None:
    weak = Evidence("EXP-2026-11-26-002", "roc_auc", 0.54, 0.5, "majority", (0.01, 0.07))
    b = brief(beats_random_by=0.1, metric_below=0.6)
    assert statuses(b, weak) == {"beats_random_by": "met", "metric_below": "met"}
    # the best run is the evidence: a strong run next to the weak one clears the project
    assert statuses(b, weak, AUC) == {"beats_random_by": "not_met", "metric_below": "not_met"}
    report = check_kill_criteria(b, [weak, AUC])
    assert report.evidence == AUC and report.considered == 2


def test_error_metrics_are_read_the_other_way_round() -> None:
    # rmse 9.5 against a mean baseline of 10: 5% better, and the gain's CI crosses 0
    close = Evidence("EXP-2026-11-26-003", "rmse", 9.5, 10.0, "mean", (-0.8, 0.1))
    b = brief("rmse", baseline_ratio=0.9, beats_random_by=0.1)
    assert statuses(b, close) == {"baseline_ratio": "met", "beats_random_by": "met"}
    far = Evidence("EXP-2026-11-26-004", "rmse", 5.0, 10.0, "mean", (-5.5, -4.5))
    assert statuses(b, far) == {"baseline_ratio": "not_met", "beats_random_by": "not_met"}
    assert statuses(brief("rmse"), far) == {"not_significant": "not_met"}
    assert statuses(brief("rmse"), close) == {"not_significant": "met"}
    # the lower rmse is the best run
    assert check_kill_criteria(b, [close, far]).evidence == far


def test_no_run_recording_the_metric_is_no_evidence() -> None:
    report = check_kill_criteria(brief("pr_auc", beats_random_by=0.1), [AUC])
    [check] = report.checks
    assert check.status == "no_evidence" and "found: roc_auc" in check.reason
    # pr_auc has no universal chance level and a rules baseline is not chance
    ruled = Evidence("EXP-2026-11-26-005", "pr_auc", 0.7, 0.4, "rules")
    [check] = check_kill_criteria(brief("pr_auc", beats_random_by=0.1), [ruled]).checks
    assert check.status == "no_evidence" and "random_value" in check.reason
    given = KillCriterion(kind="beats_random_by", threshold=0.1, random_value=0.25)
    b = brief("pr_auc").model_copy(update={"kill_criteria": (given,)})
    assert statuses(b, ruled) == {"beats_random_by": "not_met"}


def test_runs_of_another_target_or_dataset_are_left_out() -> None:
    """Issue 21: a strong run predicting another column, or trained on another table, used to
    clear the brief's kill criteria."""
    b = brief(beats_random_by=0.1)  # prediction.target: income
    weak = Evidence("EXP-2026-11-26-010", "roc_auc", 0.52, 0.5, "majority", target="income")
    weak = replace(weak, dataset="sha256:aaaa")
    elsewhere = replace(AUC, experiment_id="EXP-2026-11-26-011", target="sex")
    other_table = replace(AUC, experiment_id="EXP-2026-11-26-012", target="income")
    other_table = replace(other_table, dataset="sha256:bbbb")
    report = check_kill_criteria(b, [weak, elsewhere, other_table], "sha256:aaaa")
    assert report.evidence == weak and [c.status for c in report.checks] == ["met"]
    assert report.left_out == ("EXP-2026-11-26-011", "EXP-2026-11-26-012")
    [check] = check_kill_criteria(b, [elsewhere, other_table], "sha256:aaaa").checks
    assert check.status == "no_evidence" and "left out 2 run(s) of another target" in check.reason
    # a run that recorded neither (an older or hand-made one) still counts
    assert check_kill_criteria(b, [AUC], "sha256:aaaa").evidence == AUC


def test_evidence_reads_the_runs_target_and_dataset() -> None:
    from datetime import UTC, datetime

    from ragline.mltrack.method.kill import evidence_from_record
    from ragline.mltrack.tracking.experiments import (
        ExperimentPlan,
        ExperimentRecord,
        MetricValue,
        Outcome,
    )

    plan = ExperimentPlan("h", "sha256:cafe", "lightgbm", params={"data.target": "sex"})
    outcome = Outcome("iterate", MetricValue("roc_auc", 0.9), {}, None)
    started = datetime(2026, 11, 26, tzinfo=UTC)
    record = ExperimentRecord(
        "EXP-2026-11-26-001", "r", plan, outcome, 1.0, (), "FINISHED", started
    )
    e = evidence_from_record(record)
    assert e is not None and (e.target, e.dataset) == ("sex", "sha256:cafe")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mlflow's SQLAlchemy use
def test_kill_criteria_against_real_adult_experiments(
    sqlite_backend: Backend, tmp_path: Path
) -> None:
    frame = load_adult().sample(n=4000, random_state=0)
    frame["noise"] = np.random.default_rng(0).normal(size=len(frame))
    frame.to_csv(tmp_path / "adult.csv", index=False)
    (tmp_path / "strong.yaml").write_text(adult_config(tmp_path / "adult.csv", "{hypothesis: s}"))
    (tmp_path / "noise.yaml").write_text(NOISE_CONFIG.format(data=tmp_path / "adult.csv"))
    ml, data_dir = sqlite_backend.config, sqlite_backend.data_dir
    ids = [
        train_job(
            load_train_config(tmp_path / f"{n}.yaml"), ml, data_dir, tmp_path / n
        ).experiment_id
        for n in ("strong", "noise")
    ]
    with Tracker(ml, data_dir) as tracker:
        everything = recorded_evidence(tracker)
        noise_only = recorded_evidence(tracker, [ids[1]])
    assert sorted(e.experiment_id for e in everything) == sorted(ids)
    # the recorded baseline is the majority class: ROC-AUC 0.5 by construction
    assert all(
        e.baseline_kind == "majority" and e.baseline_value == pytest.approx(0.5) for e in everything
    )
    b = load_brief(EXAMPLE)  # baseline_ratio against the brief's hand rule (0.68)
    strong = check_kill_criteria(b, everything)
    assert strong.evidence is not None and strong.evidence.experiment_id == ids[0]
    assert strong.evidence.value > 0.8
    assert [c.status for c in strong.checks] == ["not_met", "not_met", "not_met"]
    noise = check_kill_criteria(b, noise_only)
    assert noise.evidence is not None and abs(noise.evidence.value - 0.5) < 0.05
    kinds = {c.criterion.kind: c.status for c in noise.checks}
    # the hand rule (0.68) beats a model on noise, and noise does not beat chance
    assert kinds == {"baseline_ratio": "met", "beats_random_by": "met", "not_significant": "met"}
