"""Promotion gates, pure: does a candidate model version deserve the stage it asks for?

    inputs = GateInputs(
        primary=PrimaryMetric("auc", candidate=cand_folds, production=prod_folds),
        guardrails=(Guardrail("recall@pos", candidate=0.71, production=0.72, max_regression=0.02),),
        quality_score=24, leakage_findings=(), eval_suite_passed=True,
    )
    decision = check_gates(inputs, min_quality=18, confidence=0.95)
    decision.passed, [r.name for r in decision.failed]

Six gates, each with a reason that quotes the values it compared:

- ``beats-production``: with paired per-item/per-fold values for both, the paired bootstrap CI of
  (candidate - production) must lie above ``min_improvement`` (below its negative when lower is
  better). With a golden set (``golden_delta``: both versions scored on the same rows, paired
  bootstrap over those rows) its CI is judged the same way. Otherwise the candidate's CI (given,
  or bootstrapped from its values) must lie wholly above the production value. With no
  production version the gate passes ("first promotion").
- ``guardrails``: no guardrail metric regresses more than its allowed amount.
- ``data-quality``: the data-quality score (0-30) is at least ``min_quality``.
- ``leakage``: the leakage checks ran and found nothing.
- ``eval-suite``: the eval suite ran and passed.
- ``fairness``: every protected attribute the training config declared meets its disparate
  impact and calibration-gap limits (`ragline.mltrack.tracking.fairness`).

Missing evidence fails its gate: a gate never passes because nobody measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragline.evals.stats import bootstrap_ci, paired_bootstrap
from ragline.mltrack.tracking.fairness import FAIRNESS, FairnessEvidence, fairness_gate

BEATS_PRODUCTION = "beats-production"
GUARDRAILS = "guardrails"
DATA_QUALITY = "data-quality"
LEAKAGE = "leakage"
EVAL_SUITE = "eval-suite"
GATES = (BEATS_PRODUCTION, GUARDRAILS, DATA_QUALITY, LEAKAGE, EVAL_SUITE, FAIRNESS)
QUALITY_MAX = 30
_TOL = 1e-12  # float noise must not turn an allowed regression into a refusal


@dataclass(frozen=True, slots=True)
class GoldenDelta:
    """candidate - production on the same golden rows, with its paired-bootstrap CI.

    Example:
        >>> GoldenDelta(0.02, 0.01, 0.03, rows=500).rows
        500
    """

    delta: float
    ci_low: float
    ci_high: float
    rows: int


@dataclass(frozen=True, slots=True)
class PrimaryMetric:
    """Evidence for the primary metric: paired samples, or a candidate CI against a value.

    Example:
        >>> PrimaryMetric("auc", candidate=(0.91, 0.93), production=(0.90, 0.92)).paired
        True
    """

    name: str
    candidate: tuple[float, ...] = ()
    production: tuple[float, ...] = ()
    candidate_ci: tuple[float, float] | None = None
    production_value: float | None = None
    higher_is_better: bool = True
    min_improvement: float = 0.0
    golden_delta: GoldenDelta | None = None

    @property
    def paired(self) -> bool:
        """True when production values are given item by item."""
        return bool(self.production)

    @property
    def has_production(self) -> bool:
        """True when there is any production evidence to compare with."""
        return self.paired or self.production_value is not None


@dataclass(frozen=True, slots=True)
class Guardrail:
    """A metric that must not get worse by more than ``max_regression`` (in its own units).

    Example:
        >>> g = Guardrail("latency_p95_ms", 48.0, 45.0, max_regression=5.0, higher_is_better=False)
        >>> g.candidate - g.production <= g.max_regression
        True
    """

    name: str
    candidate: float
    production: float | None
    max_regression: float = 0.0
    higher_is_better: bool = True


@dataclass(frozen=True, slots=True)
class GateInputs:
    """Everything the gates judge. ``None`` means "not measured", which fails that gate.

    Example:
        >>> GateInputs(PrimaryMetric("auc", candidate_ci=(0.9, 0.94)), quality_score=20,
        ...            leakage_findings=(), eval_suite_passed=True).quality_score
        20
    """

    primary: PrimaryMetric
    guardrails: tuple[Guardrail, ...] = ()
    quality_score: int | None = None
    leakage_findings: tuple[str, ...] | None = None
    eval_suite_passed: bool | None = None
    fairness: FairnessEvidence | None = None  # None: no protected attribute was configured


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict and why, with the values it compared."""

    name: str
    passed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class GateDecision:
    """All gates' results; ``passed`` only when every gate passed.

    Example:
        >>> d = GateDecision((GateResult("leakage", False, "2 findings"),))
        >>> d.passed, d.summary()
        (False, 'FAILED leakage: 2 findings')
    """

    results: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        """True when every gate passed."""
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[GateResult, ...]:
        """The gates that failed, in gate order."""
        return tuple(r for r in self.results if not r.passed)

    def summary(self) -> str:
        """One line per gate: ``ok name: reason`` or ``FAILED name: reason``."""
        return "\n".join(
            f"{'ok' if r.passed else 'FAILED'} {r.name}: {r.reason}" for r in self.results
        )


def _fmt(x: float) -> str:
    """4 significant digits; float noise (-5.6e-17) and -0 print as 0."""
    return f"{round(x, 12) + 0.0:.4g}"


def _paired_gate(p: PrimaryMetric, confidence: float, resamples: int, seed: int) -> GateResult:
    if len(p.candidate) != len(p.production):
        return GateResult(
            BEATS_PRODUCTION,
            False,
            f"{len(p.candidate)} candidate values but {len(p.production)} production values "
            f"for {p.name}; pass values for the same items/folds, in the same order",
        )
    cmp = paired_bootstrap(
        list(p.candidate), list(p.production), resamples=resamples, confidence=confidence, seed=seed
    )
    if cmp.delta is None or cmp.ci_low is None or cmp.ci_high is None:
        return GateResult(
            BEATS_PRODUCTION, False, f"{p.name}: need at least 2 paired values, got {cmp.n}"
        )
    ci = f"[{_fmt(cmp.ci_low)}, {_fmt(cmp.ci_high)}]"
    ok, need = _clears(p, cmp.ci_low, cmp.ci_high)
    return GateResult(
        BEATS_PRODUCTION,
        ok,
        f"{p.name} candidate - production = {_fmt(cmp.delta)}, {confidence:.0%} CI {ci} over "
        f"{cmp.n} paired values; needs the whole CI {need}",
    )


def _clears(p: PrimaryMetric, low: float, high: float) -> tuple[bool, str]:
    """Whether a candidate-minus-production CI lies wholly on the better side of
    `min_improvement`, and that requirement in words."""
    if p.higher_is_better:
        return low > p.min_improvement, f"> {_fmt(p.min_improvement)}"
    return high < -p.min_improvement, f"< {_fmt(-p.min_improvement)}"


def _golden_gate(p: PrimaryMetric, g: GoldenDelta, confidence: float) -> GateResult:
    ci = f"[{_fmt(g.ci_low)}, {_fmt(g.ci_high)}]"
    ok, need = _clears(p, g.ci_low, g.ci_high)
    return GateResult(
        BEATS_PRODUCTION,
        ok,
        f"{p.name} candidate - production = {_fmt(g.delta)} on the same {g.rows} golden rows, "
        f"{confidence:.0%} CI {ci}; needs the whole CI {need}",
    )


def _interval_gate(
    p: PrimaryMetric, target: float, confidence: float, resamples: int, seed: int
) -> GateResult:
    ci = p.candidate_ci
    if ci is None and p.candidate:
        ci = bootstrap_ci(list(p.candidate), resamples=resamples, confidence=confidence, seed=seed)
    if ci is None:
        return GateResult(
            BEATS_PRODUCTION,
            False,
            f"no confidence interval for the candidate's {p.name}: pass candidate_ci or at "
            "least 2 per-item/per-fold candidate values",
        )
    low, high = ci
    if p.higher_is_better:
        ok, need = low > target + p.min_improvement, f"> {_fmt(target + p.min_improvement)}"
    else:
        ok, need = high < target - p.min_improvement, f"< {_fmt(target - p.min_improvement)}"
    return GateResult(
        BEATS_PRODUCTION,
        ok,
        f"{p.name} candidate CI [{_fmt(low)}, {_fmt(high)}] vs production {_fmt(target)}; "
        f"needs the whole CI {need}",
    )


def _beats_production(
    p: PrimaryMetric, production_exists: bool | None, confidence: float, resamples: int, seed: int
) -> GateResult:
    if p.golden_delta is not None:
        return _golden_gate(p, p.golden_delta, confidence)
    if p.paired:
        return _paired_gate(p, confidence, resamples, seed)
    if p.production_value is not None:
        return _interval_gate(p, p.production_value, confidence, resamples, seed)
    if production_exists:
        return GateResult(
            BEATS_PRODUCTION,
            False,
            f"a production version exists but no production {p.name} was given; pass its "
            "per-item values (production=...) or its value (production_value=...)",
        )
    return GateResult(BEATS_PRODUCTION, True, "no production version yet: first promotion")


def _guardrails(guards: tuple[Guardrail, ...]) -> GateResult:
    if not guards:
        return GateResult(GUARDRAILS, True, "no guardrail metrics declared")
    notes: list[str] = []
    bad: list[str] = []
    for g in guards:
        if g.production is None:
            notes.append(f"{g.name} {_fmt(g.candidate)} (no production value)")
            continue
        worse = g.production - g.candidate if g.higher_is_better else g.candidate - g.production
        note = (
            f"{g.name} {_fmt(g.candidate)} vs {_fmt(g.production)}: regression {_fmt(worse)} "
            f"(allowed {_fmt(g.max_regression)})"
        )
        (bad if worse > g.max_regression + _TOL else notes).append(note)
    if bad:
        return GateResult(GUARDRAILS, False, "regressed: " + "; ".join(bad))
    return GateResult(GUARDRAILS, True, "; ".join(notes))


def _quality(score: int | None, min_quality: int) -> GateResult:
    if score is None:
        return GateResult(
            DATA_QUALITY, False, "no data-quality score: score the training data and pass it"
        )
    ok = score >= min_quality
    verdict = "meets" if ok else "is under"
    fix = "" if ok else "; fix the weak dimensions the quality report names"
    return GateResult(
        DATA_QUALITY, ok, f"score {score}/{QUALITY_MAX} {verdict} the minimum {min_quality}{fix}"
    )


def _leakage(findings: tuple[str, ...] | None) -> GateResult:
    if findings is None:
        return GateResult(LEAKAGE, False, "leakage checks were not run: run them and pass findings")
    if findings:
        return GateResult(
            LEAKAGE, False, f"{len(findings)} leakage finding(s): " + "; ".join(findings)
        )
    return GateResult(LEAKAGE, True, "leakage checks clean")


def _eval_suite(passed: bool | None) -> GateResult:
    if passed is None:
        return GateResult(EVAL_SUITE, False, "no eval suite result: run the suite and pass it")
    return GateResult(EVAL_SUITE, passed, "eval suite passed" if passed else "eval suite failed")


def check_gates(
    inputs: GateInputs,
    *,
    min_quality: int = 18,
    confidence: float = 0.95,
    production_exists: bool | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> GateDecision:
    """Judge `inputs` on every gate; ``production_exists=True`` makes missing production
    evidence fail instead of counting as a first promotion (the registry passes it).

    Example:
        >>> inputs = GateInputs(PrimaryMetric("auc", (0.9, 0.92), (0.8, 0.81)),
        ...                     quality_score=12, leakage_findings=(), eval_suite_passed=True)
        >>> [r.name for r in check_gates(inputs).failed]
        ['data-quality']
    """
    return GateDecision(
        (
            _beats_production(inputs.primary, production_exists, confidence, resamples, seed),
            _guardrails(inputs.guardrails),
            _quality(inputs.quality_score, min_quality),
            _leakage(inputs.leakage_findings),
            _eval_suite(inputs.eval_suite_passed),
            GateResult(FAIRNESS, *fairness_gate(inputs.fairness)),
        )
    )
