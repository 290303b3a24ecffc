"""ML or rules? Six signals scored from a problem brief and its data, and a recommendation.

    decision = decide(brief, frame)            # frame: the labelled table, or None
    decision.recommendation                    # "rules", "ml" or "rules first"
    [(s.name, s.value, s.evidence) for s in decision.signals]

The signals, and where each value comes from:

==========================  ==================================================================
explainable_in_few_rules    data: a decision tree with at most 9 leaves (9 rules, < 10) keeps
                            >= 95% of gradient boosting's skill above chance on a holdout
too_complex_for_humans      data: the same tree loses more than 15% of that skill
enough_labels               data: more than 1,000 rows with the target filled in (else the
                            brief's ``data.labelled_examples``)
must_adapt                  brief: ``signals.must_adapt``
must_be_auditable           brief: ``signals.must_be_auditable``
changes_faster_than_rules   brief: ``signals.changes_faster_than_rules``
==========================  ==================================================================

Skill above chance is (metric - chance) / (gradient boosting's metric - chance), on ROC-AUC
(chance 0.5) for binary tasks, balanced accuracy (chance 1/k) for multiclass, R² (chance 0) for
regression. Without data the first two come from the brief's answers. Between 85% and 95% the
tree is neither clearly enough nor clearly short: both signals are false. `recommend` spells
out the order in which the signals decide.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ragline.mltrack.errors import DataError
from ragline.mltrack.method.brief import ProblemBrief

if TYPE_CHECKING:
    import pandas as pd

Recommendation = Literal["rules", "ml", "rules first"]
Source = Literal["data", "brief", "unknown"]
Score = Callable[[Any, Any, Any], float]  # (fitted estimator, x, y) -> metric; sklearn is untyped
QUESTIONS = {
    "explainable_in_few_rules": "explainable in fewer than 10 rules?",
    "too_complex_for_humans": "too complex for people to write down?",
    "enough_labels": "more than 1,000 labelled examples?",
    "must_adapt": "must it adapt to new data on its own?",
    "must_be_auditable": "must every decision be fully auditable?",
    "changes_faster_than_rules": "does it change faster than rules can follow?",
}
FOR_RULES = ("explainable_in_few_rules", "must_be_auditable")
FOR_ML = ("too_complex_for_humans", "enough_labels", "must_adapt", "changes_faster_than_rules")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where the data-measured signals flip, and how much data the probe reads.

    Example:
        >>> Thresholds(min_labels=5000).rule_leaves
        9
    """

    rule_leaves: int = 9  # leaves of the rules tree: each leaf is one rule, and "< 10" rules
    explainable_share: float = 0.95
    complex_share: float = 0.85
    min_labels: int = 1000
    max_rows: int = 20_000  # a sample this size measures the gap; more rows only cost time
    test_size: float = 0.3
    seed: int = 0


@dataclass(frozen=True, slots=True)
class ComplexityProbe:
    """A few-rules tree against gradient boosting on the same holdout.

    Example:
        >>> ComplexityProbe("roc_auc", 0.80, 0.90, 0.5, 9, 7000, 3000).share
        0.75
    """

    metric: str
    rules_value: float
    model_value: float
    chance: float
    leaves: int
    train_rows: int
    test_rows: int

    @property
    def share(self) -> float | None:
        """The tree's skill above chance as a share of the model's; None when the model has
        (almost) none, since then there is nothing for either to capture."""
        room = self.model_value - self.chance
        if room < 0.01:
            return None
        return round((self.rules_value - self.chance) / room, 6)


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal: its answer (None: unknown), what it argues for, where it came from, why."""

    name: str
    value: bool | None
    source: Source
    evidence: str

    @property
    def favours(self) -> Literal["rules", "ml"]:
        """The side a true answer argues for."""
        return "rules" if self.name in FOR_RULES else "ml"


@dataclass(frozen=True, slots=True)
class Decision:
    """The recommendation, the reasons in the order they decided, and the scored signals.

    Example:
        >>> decision = decide(brief, load_adult())  # doctest: +SKIP
        >>> decision.recommendation, decision.reasons[0]  # doctest: +SKIP
        ('ml', 'too_complex_for_humans, and enough labels (45,222 rows with income filled in)')
    """

    recommendation: Recommendation
    reasons: tuple[str, ...]
    signals: tuple[Signal, ...]
    probe: ComplexityProbe | None = None


def count_labelled(frame: pd.DataFrame, target: str) -> int:
    """Rows whose target is filled in."""
    if target not in frame.columns:
        raise DataError(f"the table has no column {target!r}; set prediction.target to one")
    return int(frame[target].notna().sum())


def _features(frame: pd.DataFrame, exclude: set[str]) -> tuple[pd.DataFrame, list[bool]]:
    """Numbers as floats, other columns as category codes (missing stays NaN); the mask says
    which columns gradient boosting may treat as categorical (at most 255 levels)."""
    import numpy as np
    import pandas as pd

    columns: dict[str, pd.Series] = {}
    categorical: list[bool] = []
    for name in frame.columns:
        series = frame[name]
        if name in exclude or pd.api.types.is_datetime64_any_dtype(series):
            continue
        if pd.api.types.is_numeric_dtype(series):
            columns[str(name)] = series.astype("float64")
            categorical.append(False)
            continue
        codes = series.astype("category").cat.codes.astype("float64")
        columns[str(name)] = codes.where(codes >= 0, np.nan)
        categorical.append(int(codes.max()) < 255)
    if not columns:
        raise DataError("the table has no feature columns besides the target and exclusions")
    return pd.DataFrame(columns, index=frame.index), categorical


def probe_complexity(
    frame: pd.DataFrame,
    target: str,
    task_type: str,
    exclude: tuple[str, ...] = (),
    thresholds: Thresholds = Thresholds(),
) -> ComplexityProbe:
    """Fit a `rule_leaves`-leaf decision tree and gradient boosting on one split of the
    labelled rows (at most `max_rows`) and score both on the holdout."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    if task_type not in ("binary_classification", "multiclass_classification", "regression"):
        raise DataError(f"cannot measure rules against a model for {task_type} tasks")
    labelled = frame[frame[target].notna()]
    if len(labelled) > thresholds.max_rows:
        labelled = labelled.sample(n=thresholds.max_rows, random_state=thresholds.seed)
    x, mask = _features(labelled, {target, *exclude})
    regression = task_type == "regression"
    y = (
        labelled[target].to_numpy(dtype=np.float64)
        if regression
        else pd.factorize(labelled[target])[0]
    )
    if not regression and len(np.unique(y)) < 2:
        raise DataError(f"{target!r} has one class; a classifier needs at least two")
    x_train, x_test, y_train, y_test = train_test_split(
        x,
        y,
        test_size=thresholds.test_size,
        random_state=thresholds.seed,
        stratify=None if regression else y,
    )
    rules, model = _models(regression, mask, thresholds)
    # one OpenMP thread: on a small or busy machine gradient boosting's thread pool
    # oversubscribes the cores (6,000 Adult rows: 18 s on 2 busy cores, 0.7 s on one thread)
    threadpoolctl = importlib.import_module("threadpoolctl")  # sklearn's; untyped
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        rules.fit(x_train, y_train)
        model.fit(x_train, y_train)
    metric, chance, score = _scorer(task_type, y)
    return ComplexityProbe(
        metric,
        score(rules, x_test, y_test),
        score(model, x_test, y_test),
        chance,
        int(rules.get_n_leaves()),
        len(x_train),
        len(x_test),
    )


def _models(regression: bool, mask: list[bool], t: Thresholds) -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cats = mask if any(mask) else None
    if regression:
        return (
            DecisionTreeRegressor(max_leaf_nodes=t.rule_leaves, random_state=t.seed),
            HistGradientBoostingRegressor(categorical_features=cats, random_state=t.seed),
        )
    return (
        DecisionTreeClassifier(max_leaf_nodes=t.rule_leaves, random_state=t.seed),
        HistGradientBoostingClassifier(categorical_features=cats, random_state=t.seed),
    )


def _scorer(task_type: str, y: object) -> tuple[str, float, Score]:
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score

    if task_type == "regression":
        return "r2", 0.0, lambda m, x, y: float(r2_score(y, m.predict(x)))
    if task_type == "binary_classification":
        return "roc_auc", 0.5, lambda m, x, y: float(roc_auc_score(y, m.predict_proba(x)[:, 1]))
    k = len(np.unique(np.asarray(y)))
    return (
        "balanced_accuracy",
        1.0 / k,
        lambda m, x, y: float(balanced_accuracy_score(y, m.predict(x))),
    )


def _from_brief(brief: ProblemBrief, name: str) -> Signal:
    value: bool | None = getattr(brief.signals, name)
    if value is None:
        return Signal(name, None, "unknown", f"not answered: set signals.{name} in the brief")
    return Signal(name, value, "brief", f"signals.{name}: {str(value).lower()} in the brief")


def _complexity(probe: ComplexityProbe, t: Thresholds) -> tuple[Signal, Signal]:
    share = probe.share
    measured = (
        f"a {probe.leaves}-leaf tree ({probe.leaves} rules) scores {probe.metric} "
        f"{probe.rules_value:.3f}, gradient boosting {probe.model_value:.3f}, chance "
        f"{probe.chance:.3f} ({probe.test_rows:,} holdout rows)"
    )
    if share is None:
        why = f"{measured}: the model barely beats chance, so there is no pattern to compare"
        return (
            Signal("explainable_in_few_rules", None, "data", why),
            Signal("too_complex_for_humans", None, "data", why),
        )
    kept = f"{measured}; the tree keeps {share:.0%} of the model's skill above chance"
    return (
        Signal(
            "explainable_in_few_rules",
            share >= t.explainable_share,
            "data",
            f"{kept} (explainable from {t.explainable_share:.0%})",
        ),
        Signal(
            "too_complex_for_humans",
            share < t.complex_share,
            "data",
            f"{kept} (too complex below {t.complex_share:.0%})",
        ),
    )


def _labels(brief: ProblemBrief, labelled: int | None, t: Thresholds) -> Signal:
    need = f"ML needs more than {t.min_labels:,}"
    if labelled is not None:
        text = f"{labelled:,} rows with {brief.prediction.target} filled in; {need}"
        return Signal("enough_labels", labelled > t.min_labels, "data", text)
    stated = brief.data.labelled_examples
    if stated is None:
        return Signal(
            "enough_labels", None, "unknown", "no table given and no data.labelled_examples"
        )
    text = f"data.labelled_examples: {stated:,} in the brief; {need}"
    return Signal("enough_labels", stated > t.min_labels, "brief", text)


def score_signals(
    brief: ProblemBrief,
    probe: ComplexityProbe | None,
    labelled: int | None,
    thresholds: Thresholds = Thresholds(),
) -> tuple[Signal, ...]:
    """The six signals: complexity and labels from the data when measured, the rest (and
    everything unmeasured) from the brief's answers."""
    if probe is not None:
        explainable, complex_ = _complexity(probe, thresholds)
    else:
        explainable = _from_brief(brief, "explainable_in_few_rules")
        complex_ = _from_brief(brief, "too_complex_for_humans")
    return (
        explainable,
        complex_,
        _labels(brief, labelled, thresholds),
        _from_brief(brief, "must_adapt"),
        _from_brief(brief, "must_be_auditable"),
        _from_brief(brief, "changes_faster_than_rules"),
    )


def recommend(signals: tuple[Signal, ...]) -> tuple[Recommendation, tuple[str, ...]]:
    """Rules, ML or rules first, first rule that applies wins:

    1. explainable in few rules, and it need not adapt nor changes fast: rules;
    2. must be auditable, and not shown too complex: rules;
    3. not (known to be) more than 1,000 labels: rules first, collecting labels;
    4. must be auditable but too complex: rules first, then an interpretable model;
    5. too complex, or two of (too complex, must adapt, changes fast): ML;
    6. otherwise rules first: ML has to earn its place against the rules.
    """
    by = {s.name: s for s in signals}
    yes = {s.name for s in signals if s.value is True}
    adaptive = sorted(yes & {"must_adapt", "changes_faster_than_rules"})
    if "explainable_in_few_rules" in yes and not adaptive:
        return "rules", ("a few rules capture the pattern and nothing says it must keep learning",)
    if "must_be_auditable" in yes and "too_complex_for_humans" not in yes:
        return "rules", ("every decision must be auditable and nothing shows rules fall short",)
    if "enough_labels" not in yes:
        return "rules first", (
            f"not enough labels to train on ({by['enough_labels'].evidence}): ship rules, "
            "collect labels, revisit ML",
        )
    if "must_be_auditable" in yes:
        return "rules first", (
            "the pattern is too complex for a few rules but every decision must be auditable: "
            "ship rules, then try an interpretable model the auditors can check",
        )
    pro_ml = sorted(yes & {"too_complex_for_humans", *adaptive})
    if "too_complex_for_humans" in yes or len(pro_ml) >= 2:
        labels = by["enough_labels"].evidence.split(";")[0]
        return "ml", (f"{' and '.join(pro_ml)}, and enough labels ({labels})",)
    why = "no signal clearly calls for ML: ship rules as the baseline ML has to beat"
    if adaptive:
        why = f"{adaptive[0]}, but rules may still do: ship rules, move to ML when they go stale"
    return "rules first", (why,)


def decide(
    brief: ProblemBrief, frame: pd.DataFrame | None = None, thresholds: Thresholds = Thresholds()
) -> Decision:
    """Score the signals (measuring the table when given) and recommend."""
    probe, labelled = None, None
    if frame is not None:
        labelled = count_labelled(frame, brief.prediction.target)
        if brief.task_type != "ranking":  # no few-rules counterpart to measure for ranking
            exclude = brief.data.exclude_columns
            probe = probe_complexity(frame, brief.prediction.target, brief.task_type, exclude)
    signals = score_signals(brief, probe, labelled, thresholds)
    recommendation, reasons = recommend(signals)
    for_ml = [s.name for s in signals if s.value is True and s.favours == "ml"]
    for_rules = [s.name for s in signals if s.value is True and s.favours == "rules"]
    unknown = [s.name for s in signals if s.value is None]
    tally = (
        f"true for ML: {', '.join(for_ml) or 'none'}; true for rules: "
        f"{', '.join(for_rules) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
    )
    return Decision(recommendation, (*reasons, tally), signals, probe)


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def decision_markdown(brief: ProblemBrief, decision: Decision) -> str:
    """The decision as a Markdown page (``<brief>.decision.md``)."""
    lines = [
        f"# ML or rules: {brief.name}",
        "",
        f"**Recommendation: {decision.recommendation}**",
        "",
        *(f"- {reason}" for reason in decision.reasons),
        "",
        "| signal | question | answer | source | evidence |",
        "|---|---|---|---|---|",
    ]
    for s in decision.signals:
        evidence = s.evidence.replace("|", "\\|")
        lines.append(
            f"| {s.name} | {QUESTIONS[s.name]} | {_yes_no(s.value)} | {s.source} | {evidence} |"
        )
    return "\n".join(lines) + "\n"
