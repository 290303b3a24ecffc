"""The ML-system quality rubric: eight dimensions scored 0-5 from evidence, weighted to 0-100.

    evidence = gather_evidence(MltrackConfig(), Path(".ragline"), None, [Path("adult.yaml")])
    result = score_system(evidence)          # pure: the same evidence gives the same score
    result.total_100, result.band, [(d.name, d.score, d.to_raise) for d in result.dimensions]

Each dimension's 0-5 score counts for its weight (`WEIGHTS`, summing to 100):
``total_100 = sum(score / 5 * weight)``. Data quality, evaluation (experiment rigour, model
performance) and monitoring weigh most: a model trained on bad data, judged without CIs or left
unwatched fails in production whatever its write-up says; documentation weighs least because it
does not change what the model does (it is still scored, and its points still count).

=================  ======  ====================================================================
dimension          weight  why
=================  ======  ====================================================================
problem framing    10      a wrong question is costly, but is also caught by the gates after
data quality       20      every later number rests on the data
experiment rigour  15      CIs, leakage checks and a hashed dataset make the metric believable
model performance  15      beating the baseline and the predecessor is the point of the model
deployment         10      staged, unforced, reversible promotion
monitoring         15      drift and alerts catch the failures no offline test sees
documentation       5      helps people use the model; changes nothing it predicts
cost efficiency    10      a budget, and spend known per prediction
=================  ======  ====================================================================

Bands (`BANDS`, the one place their names live): 90-100 production-ready, 75-89 minor gaps,
60-74 significant gaps, below 60 not ready.

Every point is one check on recorded evidence; absent evidence earns 0 and says what to do.

=================  ==============================================================================
dimension          one point each
=================  ==============================================================================
problem framing    hypothesis recorded; primary metric named; baseline declared; intended use
                   declared; out-of-scope declared
data quality       4 x (recorded quality score / 30), rounded down; +1 when training was not forced
experiment rigour  CI on the primary metric; baseline delta with a CI; dataset version hashed;
                   leakage checks run and clean; at least two experiments to compare
model performance  beats the baseline (CI excludes 0); production beats its predecessor (a first
                   production version: beating the baseline suffices); calibration measured;
                   fairness measured; the latest eval report passed its gates
deployment         a production version; it went through staging; rollback exercised or an
                   earlier production version to roll back to; no forced promotion; production
                   traces to an experiment with a recorded outcome
monitoring         cost ledger has events; events in the last 7 days; alert state table exists;
                   alerts evaluated (rows in it); drift checks stored
documentation      intended use and out-of-scope logged on the run (card-able); limitations
                   declared; owner declared; hypothesis on the model's experiment; README or docs/
cost efficiency    costs recorded; monthly budget configured; within budget; projection under 80%
                   of budget; cost per 1k predictions known
=================  ==============================================================================

`gather_evidence` does the I/O (configs, MLflow runs, registry audit, eval runs, ledger,
monitoring tables); an unreachable store becomes a note in `Evidence.notes`, never an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

__all__ = ["BANDS", "WEIGHTS", "DimensionScore", "Evidence", "SystemScore", "band", "score_system"]

MAX_POINTS = 5
DIMENSIONS = (
    "problem framing",
    "data quality",
    "experiment rigour",
    "model performance",
    "deployment",
    "monitoring",
    "documentation",
    "cost efficiency",
)
WEIGHTS: dict[str, int] = {
    "problem framing": 10,
    "data quality": 20,
    "experiment rigour": 15,
    "model performance": 15,
    "deployment": 10,
    "monitoring": 15,
    "documentation": 5,
    "cost efficiency": 10,
}
# (lowest total_100 of the band, its name), best first; the last band starts at 0
BANDS: tuple[tuple[int, str], ...] = (
    (90, "production-ready"),
    (75, "minor gaps"),
    (60, "significant gaps"),
    (0, "not ready"),
)
if (
    sum(WEIGHTS.values()) != 100
    or tuple(WEIGHTS) != DIMENSIONS
    or any(w % MAX_POINTS for w in WEIGHTS.values())
):
    raise AssertionError("score.WEIGHTS: one weight per dimension, multiples of 5, 100 in all")
ALERT_TABLE = "ragline_alert_state"
DRIFT_PREFIX = "ragline_drift"
Check = tuple[bool, str, str]  # (earned, what it rests on, what would raise it)


@dataclass(frozen=True)
class Evidence:
    """What was found; every default means "not found". Built by `gather_evidence` or by hand.

    Example:
        >>> score_system(Evidence(hypothesis="deeper trees help")).dimensions[0].score
        1
    """

    model: str | None = None
    hypothesis: str | None = None
    primary_metric: str | None = None
    baseline: str | None = None
    intended_use: str | None = None
    out_of_scope: str | None = None
    limitations: tuple[str, ...] = ()
    owner: str | None = None
    card_fields_on_run: bool = False
    experiment_hypothesis: str | None = None
    quality_total: int | None = None
    quality_forced: bool | None = None
    primary_ci: bool = False
    baseline_delta_ci: bool = False
    dataset_version: str | None = None
    leakage_findings: tuple[str, ...] | None = None
    experiments: int = 0
    beats_baseline: bool | None = None
    beats_predecessor: bool | None = None
    calibration_measured: bool = False
    fairness_measured: bool = False
    eval_runs: int = 0
    eval_passed: bool | None = None
    production_version: int | None = None
    staged_before_production: bool = False
    rollback_ready: bool = False
    promotions: int = 0
    forced_promotions: int = 0
    production_traced: bool = False
    ledger_events: int = 0
    recent_ledger_events: int = 0
    alert_table: bool = False
    alert_rows: int = 0
    drift_checks: int = 0
    docs_present: bool = False
    cost_usd: Decimal | None = None
    budget_usd: Decimal | None = None
    budget_level: str | None = None
    cost_per_1k: Decimal | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DimensionScore:
    """One dimension's points, what each rests on, and what would raise the score.

    Example:
        >>> DimensionScore("deployment", 2, 5, ["a production version"], ["run a rollback"]).score
        2
    """

    name: str
    score: int
    max: int
    rests_on: list[str]
    to_raise: list[str]

    @property
    def weight(self) -> int:
        """The dimension's share of the 0-100 total (`WEIGHTS`; 0 for a name not in it)."""
        return WEIGHTS.get(self.name, 0)

    @property
    def weighted(self) -> int:
        """What the dimension adds to `SystemScore.total_100`: score / max x weight (whole
        points: each weight is a multiple of `MAX_POINTS`)."""
        return self.score * self.weight // self.max if self.max else 0


@dataclass(frozen=True)
class SystemScore:
    """The eight dimensions, their raw total out of 40 and their weighted total out of 100.

    Example:
        >>> s = score_system(Evidence())
        >>> s.total, s.max, s.total_100, s.band, len(s.dimensions)
        (0, 40, 0, 'not ready', 8)
    """

    dimensions: tuple[DimensionScore, ...]

    @property
    def total(self) -> int:
        """The sum of the dimensions' scores."""
        return sum(d.score for d in self.dimensions)

    @property
    def max(self) -> int:
        """The highest possible total (40)."""
        return sum(d.max for d in self.dimensions)

    @property
    def total_100(self) -> int:
        """The weighted total, 0-100: each dimension's score / 5 x its weight (`WEIGHTS`)."""
        return sum(d.weighted for d in self.dimensions)

    @property
    def band(self) -> str:
        """The band `total_100` falls in (`BANDS`)."""
        return band(self.total_100)


def band(total_100: float) -> str:
    """The name of the band (`BANDS`) a weighted total falls in.

    Example:
        >>> band(92), band(89.5), band(60), band(59)
        ('production-ready', 'minor gaps', 'significant gaps', 'not ready')
    """
    return next(name for low, name in BANDS if total_100 >= low)


# per dimension, per point: (what it rests on, what would raise it); formatted with e=Evidence
_RUBRIC: dict[str, tuple[tuple[str, str], ...]] = {
    "problem framing": (
        ("hypothesis: {e.hypothesis}", "state experiment.hypothesis in the training config"),
        ("primary metric: {e.primary_metric}", "name metrics.primary in the training config"),
        ("baseline: {e.baseline}", "declare baseline.kind (majority, mean or rules)"),
        ("intended use declared", "declare experiment.intended_use in the training config"),
        ("out-of-scope uses declared", "declare experiment.out_of_scope in the training config"),
    ),
    "experiment rigour": (
        ("primary metric has a bootstrap CI", "record the primary metric with a CI"),
        ("delta to the baseline has a CI", "compare with a baseline on the same test rows"),
        ("dataset version {e.dataset_version}", "train via `ragline ml train` (hashes the data)"),
        ("leakage checks ran and found nothing", "{leakage}"),
        ("{e.experiments} experiments to compare", "run a second experiment to compare with"),
    ),
    "model performance": (
        ("beats the baseline, CI excluding 0", "improve the model until its delta CI excludes 0"),
        ("{predecessor}", "promote a version whose CI beats the previous production's value"),
        ("calibration measured (ECE)", "measure calibration (classification report.json)"),
        ("fairness measured", "name data.protected in the training config"),
        (
            "latest of {e.eval_runs} eval run(s) passed",
            "run `ragline eval SUITE.yaml` until it passes",
        ),
    ),
    "deployment": (
        (
            "{e.model} version {e.production_version} in production",
            "`ragline ml promote {model} N --to production`",
        ),
        ("production went through staging", "promote to staging before production"),
        (
            "a rollback target exists or rollback was run",
            "keep an earlier production version to roll back to",
        ),
        ("{e.promotions} promotion(s), none forced", "promote through the gates, without --force"),
        (
            "production traces to an experiment outcome",
            "register models from `ragline ml train` runs",
        ),
    ),
    "monitoring": (
        ("{e.ledger_events} cost-ledger events", "send cost events to the ledger (costs.ledger)"),
        (
            "{e.recent_ledger_events} ledger events in 7 days",
            "keep the ledger fed (none in 7 days)",
        ),
        (f"alert state table {ALERT_TABLE}", "configure alert rules so their state is stored"),
        ("{e.alert_rows} alert state row(s)", "evaluate the alert rules on a schedule"),
        ("{e.drift_checks} stored drift check(s)", "store drift checks (`ragline monitor drift`)"),
    ),
    "documentation": (
        (
            "intended use/out-of-scope on the run",
            "retrain with them so `ragline ml card {model}` has them",
        ),
        ("{n_limits} limitation(s) declared", "list experiment.limitations in the training config"),
        ("owner: {e.owner}", "declare experiment.owner in the training config"),
        ("the experiment records its hypothesis", "set experiment.hypothesis before training"),
        ("README or docs/ present", "write a README.md or docs/ for the system"),
    ),
    "cost efficiency": (
        ("costs recorded (${e.cost_usd})", "record costs in the ledger (costs.ledger)"),
        ("monthly budget ${e.budget_usd}", "set costs.ledger.monthly_budget_usd"),
        ("within budget ({e.budget_level})", "bring month-to-date spend under the budget"),
        ("projection under 80% of the budget", "cut spend: the projection passes 80% of budget"),
        ("${e.cost_per_1k} per 1k predictions", "record prediction costs (component 'prediction')"),
    ),
}


def _dimension(name: str, e: Evidence, earned: Sequence[bool], **extra: object) -> DimensionScore:
    rests, raise_ = [], []
    for ok, (rest, hint) in zip(earned, _RUBRIC[name], strict=True):
        if ok:
            rests.append(rest.format(e=e, **extra))
        else:
            raise_.append(hint.format(e=e, model=e.model or "MODEL", **extra))
    return DimensionScore(name, sum(earned), MAX_POINTS, rests, raise_)


def _framing(e: Evidence) -> DimensionScore:
    flags = (e.hypothesis, e.primary_metric, e.baseline, e.intended_use, e.out_of_scope)
    return _dimension("problem framing", e, [bool(f) for f in flags])


def _data_quality(e: Evidence) -> DimensionScore:
    if e.quality_total is None:
        hint = "train with `ragline ml train CONFIG` so the data-quality score is recorded"
        return DimensionScore("data quality", 0, MAX_POINTS, [], [hint])
    points = min(4, max(0, e.quality_total) * 4 // 30)
    rests, raise_ = [f"quality score {e.quality_total}/30 gives {points}/4"], []
    if points < 4:
        raise_.append("fix the weakest data-quality dimensions (`ragline ml quality DATA`)")
    if e.quality_forced is False:
        points += 1
        rests.append("training was not forced past the quality gate")
    else:
        raise_.append("retrain without --force once the data passes ml.min_quality")
    return DimensionScore("data quality", points, MAX_POINTS, rests, raise_)


def _rigour(e: Evidence) -> DimensionScore:
    hashed = bool(e.dataset_version and e.dataset_version.startswith("sha256:"))
    leakage = (
        "run the leakage checks (`ragline ml leakage CONFIG`) and retrain"
        if e.leakage_findings is None
        else f"fix {len(e.leakage_findings)} leakage finding(s) and retrain"
    )
    earned = [
        e.primary_ci,
        e.baseline_delta_ci,
        hashed,
        e.leakage_findings == (),
        e.experiments > 1,
    ]
    return _dimension("experiment rigour", e, earned, leakage=leakage)


def _performance(e: Evidence) -> DimensionScore:
    first = e.beats_predecessor is None and e.production_version is not None
    first = first and bool(e.beats_baseline)  # a first production's predecessor is the baseline
    predecessor = (
        "production beats its predecessor"
        if e.beats_predecessor
        else "first production version, and it beats the baseline"
    )
    earned = [
        bool(e.beats_baseline),
        bool(e.beats_predecessor) or first,
        e.calibration_measured,
        e.fairness_measured,
        bool(e.eval_passed),
    ]
    return _dimension("model performance", e, earned, predecessor=predecessor)


def _deployment(e: Evidence) -> DimensionScore:
    prod = e.production_version is not None
    unforced = prod and e.promotions > 0 and e.forced_promotions == 0
    earned = [prod, e.staged_before_production, e.rollback_ready, unforced, e.production_traced]
    return _dimension("deployment", e, earned)


def _monitoring(e: Evidence) -> DimensionScore:
    counts = (e.ledger_events, e.recent_ledger_events, int(e.alert_table), e.alert_rows)
    return _dimension("monitoring", e, [c > 0 for c in (*counts, e.drift_checks)])


def _documentation(e: Evidence) -> DimensionScore:
    flags = (e.card_fields_on_run, e.limitations, e.owner, e.experiment_hypothesis, e.docs_present)
    return _dimension("documentation", e, [bool(f) for f in flags], n_limits=len(e.limitations))


def _cost(e: Evidence) -> DimensionScore:
    budget = e.budget_usd is not None
    earned = [
        e.cost_usd is not None and e.ledger_events > 0,
        budget,
        budget and e.budget_level in ("ok", "warning"),
        budget and e.budget_level == "ok",
        e.cost_per_1k is not None,
    ]
    return _dimension("cost efficiency", e, earned)


def score_system(evidence: Evidence) -> SystemScore:
    """Score `evidence` on the rubric (module docstring); pure.

    Example:
        >>> score_system(Evidence(production_version=1, model="m")).dimensions[4].rests_on
        ['m version 1 in production']
    """
    scorers = (_framing, _data_quality, _rigour, _performance)
    more = (_deployment, _monitoring, _documentation, _cost)
    return SystemScore(tuple(f(evidence) for f in (*scorers, *more)))
