"""ragline.mltrack.method.decide: the six ML-vs-rules signals measured on UCI Adult (its real
target, a target a few rules define, a table short of labels) and the recommendation's order of
rules."""

from __future__ import annotations

import pandas as pd
import pytest

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.errors import DataError
from ragline.mltrack.method.brief import ProblemBrief, load_brief
from ragline.mltrack.method.decide import (
    QUESTIONS,
    Signal,
    Thresholds,
    count_labelled,
    decide,
    decision_markdown,
    probe_complexity,
    recommend,
)
from tests.paths import REPO

pytestmark = pytest.mark.unit
EXAMPLE = REPO / "configs" / "briefs" / "adult-income.yaml"


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult().sample(n=6000, random_state=0).reset_index(drop=True)


def adult_brief(**signals: bool | None) -> ProblemBrief:
    loaded = load_brief(EXAMPLE)
    return loaded.model_copy(update={"signals": loaded.signals.model_copy(update=signals)})


def values(signals: tuple[Signal, ...]) -> dict[str, bool | None]:
    return {s.name: s.value for s in signals}


def test_income_on_adult_is_beyond_a_few_rules() -> None:
    adult = load_adult()  # all 45,222 rows: the probe samples its 20,000 itself
    decision = decide(adult_brief(), adult)
    probe = decision.probe
    assert probe is not None and probe.metric == "roc_auc" and probe.leaves <= 9
    assert probe.train_rows + probe.test_rows == Thresholds().max_rows
    # gradient boosting finds more than nine rules can hold (published AUC ~0.92)
    assert 0.5 < probe.rules_value < probe.model_value and probe.model_value > 0.88
    assert probe.share is not None and probe.share < 0.95
    got = values(decision.signals)
    assert got["explainable_in_few_rules"] is False and got["enough_labels"] is True
    assert decision.recommendation == ("ml" if got["too_complex_for_humans"] else "rules first")
    assert all(s.source == "data" for s in decision.signals[:3])
    assert all(s.source == "brief" for s in decision.signals[3:])


def test_a_target_that_two_rules_define_is_explainable(adult: pd.DataFrame) -> None:
    frame = adult.copy()
    married = frame["relationship"].isin(["Husband", "Wife"])
    frame["income"] = (married & (frame["education-num"] >= 13)).astype(int)
    decision = decide(adult_brief(), frame)
    assert decision.probe is not None and decision.probe.rules_value > 0.99
    got = values(decision.signals)
    assert got["explainable_in_few_rules"] is True and got["too_complex_for_humans"] is False
    assert decision.recommendation == "rules"
    # the same table, but the pattern must keep adapting: rules now, ML when they go stale
    adaptive = decide(adult_brief(must_adapt=True), frame)
    assert adaptive.recommendation == "rules first" and "must_adapt" in adaptive.reasons[0]


def test_a_table_short_of_labels_starts_with_rules(adult: pd.DataFrame) -> None:
    frame = adult.copy()
    frame.loc[frame.index >= 900, "income"] = None  # only 900 rows were ever labelled
    assert count_labelled(frame, "income") == 900
    decision = decide(adult_brief(), frame)
    assert values(decision.signals)["enough_labels"] is False
    assert decision.recommendation in ("rules", "rules first")
    if decision.recommendation == "rules first":
        assert "900 rows" in decision.reasons[0]


def test_regression_is_measured_with_r2(adult: pd.DataFrame) -> None:
    probe = probe_complexity(
        adult.head(3000), "hours-per-week", "regression", thresholds=Thresholds(seed=1)
    )
    assert probe.metric == "r2" and probe.chance == 0.0 and probe.leaves <= 9
    assert probe.model_value > 0.0


def test_without_data_the_brief_answers_every_signal() -> None:
    b = adult_brief(explainable_in_few_rules=None, too_complex_for_humans=True)
    b = b.model_copy(update={"data": b.data.model_copy(update={"labelled_examples": 45222})})
    decision = decide(b)
    assert decision.probe is None
    by = {s.name: s for s in decision.signals}
    assert by["explainable_in_few_rules"].source == "unknown"
    assert by["too_complex_for_humans"].source == "brief"
    assert by["enough_labels"].value is True and "45,222" in by["enough_labels"].evidence
    assert decision.recommendation == "ml"
    assert "unknown: explainable_in_few_rules" in decision.reasons[-1]


def test_a_missing_target_or_a_single_class_is_a_data_error(adult: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"prediction\.target"):
        decide(adult_brief(), adult.drop(columns=["income"]))
    with pytest.raises(DataError, match="one class"):
        probe_complexity(adult.assign(income=1), "income", "binary_classification")


def signals(**answers: bool | None) -> tuple[Signal, ...]:
    return tuple(Signal(n, answers.get(n), "brief", "given") for n in QUESTIONS)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"explainable_in_few_rules": True, "enough_labels": True}, "rules"),
        ({"must_be_auditable": True, "enough_labels": True}, "rules"),
        ({"too_complex_for_humans": True, "enough_labels": False}, "rules first"),
        ({"too_complex_for_humans": True}, "rules first"),  # label count unknown
        ({"too_complex_for_humans": True, "enough_labels": True, "must_be_auditable": True},
         "rules first"),
        ({"too_complex_for_humans": True, "enough_labels": True}, "ml"),
        ({"enough_labels": True, "must_adapt": True, "changes_faster_than_rules": True}, "ml"),
        ({"explainable_in_few_rules": True, "enough_labels": True, "must_adapt": True,
          "changes_faster_than_rules": True}, "ml"),
        ({"enough_labels": True, "must_adapt": True}, "rules first"),
        ({"enough_labels": True}, "rules first"),
        ({}, "rules first"),
    ],
)  # fmt: skip
def test_the_recommendation_follows_the_documented_order(
    answers: dict[str, bool], expected: str
) -> None:
    recommendation, reasons = recommend(signals(**answers))
    assert recommendation == expected and reasons and all(reasons)


def test_the_markdown_page_has_one_row_per_signal() -> None:
    b = adult_brief()
    decision = decide(b.model_copy(update={"data": b.data.model_copy(update={"path": None})}))
    page = decision_markdown(b, decision)
    assert f"**Recommendation: {decision.recommendation}**" in page
    for name, question in QUESTIONS.items():
        assert f"| {name} | {question} |" in page
