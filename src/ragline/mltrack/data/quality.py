"""Data quality: six dimensions scored 0-5 each, 30 in all; training is refused under 18.

    report = score_quality(frame, QualitySpec(target="income", categories={"sex": ["F", "M"]}))
    require_quality(report, threshold=18)        # QualityTooLow names the weak dimensions

Each dimension is measured where the data and the spec allow it; otherwise it takes the score
declared in ``QualitySpec.declared``; with neither it scores 0 as "not measured" and its reason
says what to declare. Nothing is ever given 5 for free. A measured value wins over a declared one
(the reason says the declaration was ignored). A declared score is capped where measured evidence
bounds it: values off their column's type (consistency's measurement) cannot be accurate, so
declared accuracy is at most the accuracy grade of that off-type share. Capped, not refused: the
report still scores the table and says what the evidence allowed, and the gate decides on it.
Every report names its self-declared points (``QualityReport.headline``), so a table that passes
only on them says so wherever its total is printed.
Scores come from the rubric below (bounds inclusive; past the last bound the score is 0).

============  ==============================================  =====  =====  ====  ====  =====
dimension     measured value                                  5      4      3     2     1
============  ==============================================  =====  =====  ====  ====  =====
completeness  missing cells / all cells                       ≤1%    ≤5%    ≤10%  ≤20%  ≤40%
accuracy      checked values outside declared ranges or       ≤0.1%  ≤1%    ≤5%   ≤10%  ≤20%
              categories / checked values
consistency   worst of: the duplicate-row rate; per column,   ≤0.5%  ≤2%    ≤5%   ≤10%  ≤25%
              the share of values off its declared dtype or
              regex (undeclared object columns: off their
              most common Python type)
timeliness    age of the newest timestamp / max_age           ≤1     ≤2     ≤4    ≤8    ≤16
relevance     best feature's U = MI(feature; target) /        ≥0.1   ≥0.05  ≥.02  ≥.01  ≥.005
              H(target), Miller-Madow corrected, among the
              features significant in a G-test at
              p < 0.01 / number of features
volume        min(rows / min_rows,                            ≥1     ≥0.75  ≥0.5  ≥.25  ≥0.1
              smallest class / min_rows_per_class)
============  ==============================================  =====  =====  ====  ====  =====

Measurable when: completeness, consistency, volume always; accuracy with ``ranges`` or
``categories``; timeliness with ``timestamp`` (and ``max_age``); relevance with ``target``.
Timeliness reports the spread (oldest to newest) and future-dated rows as evidence but does not
score them: training on long history is normal. Numeric features are cut into 10 quantile bins
and categoricals keep their 20 commonest values for the mutual information.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import stats

from ragline.mltrack.errors import DataError, QualityTooLow

log = logging.getLogger(__name__)

Dimension = Literal["completeness", "accuracy", "consistency", "timeliness", "relevance", "volume"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
Source = Literal["measured", "declared", "not measured"]
DtypeName = Literal["int", "float", "number", "bool", "string", "datetime"]
Evidence = Mapping[str, float | int | str]
_Facts = dict[str, float | int | str]
Score = Annotated[int, Field(ge=0, le=5)]
Table = tuple[tuple[float, int], ...]

COMPLETENESS: Table = ((0.01, 5), (0.05, 4), (0.10, 3), (0.20, 2), (0.40, 1))
ACCURACY: Table = ((0.001, 5), (0.01, 4), (0.05, 3), (0.10, 2), (0.20, 1))
CONSISTENCY: Table = ((0.005, 5), (0.02, 4), (0.05, 3), (0.10, 2), (0.25, 1))
TIMELINESS: Table = ((1.0, 5), (2.0, 4), (4.0, 3), (8.0, 2), (16.0, 1))
RELEVANCE: Table = ((0.10, 5), (0.05, 4), (0.02, 3), (0.01, 2), (0.005, 1))
VOLUME: Table = ((1.0, 5), (0.75, 4), (0.5, 3), (0.25, 2), (0.1, 1))


class QualitySpec(BaseModel):
    """What the data should look like; everything optional except what a dimension needs.

    >>> spec = QualitySpec(
    ...     target="churned", timestamp="event_time", max_age=timedelta(days=7),
    ...     dtypes={"age": "int"}, patterns={"zip": r"\\d{5}"}, ranges={"age": (0, 120)},
    ...     categories={"plan": ["free", "pro"]}, declared={"relevance": 4},
    ... )
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str | None = Field(None, description="target column; enables relevance and classes")
    timestamp: str | None = Field(None, description="event-time column; enables timeliness")
    max_age: timedelta | None = Field(None, description="how old the newest row may be")
    dtypes: dict[str, DtypeName] = Field(default_factory=dict, description="expected types")
    patterns: dict[str, str] = Field(default_factory=dict, description="full-match regexes")
    ranges: dict[str, tuple[float | None, float | None]] = Field(
        default_factory=dict, description="inclusive (min, max) per numeric column; None: open"
    )
    categories: dict[str, list[str | int | float | bool]] = Field(
        default_factory=dict, description="allowed values per column"
    )
    min_rows: int = Field(1000, ge=1, description="rows needed for a volume of 5")
    min_rows_per_class: int = Field(50, ge=1, description="rows per target class for 5")
    declared: dict[Dimension, Score] = Field(
        default_factory=dict, description="scores for dimensions that cannot be measured"
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: dict[str, str]) -> dict[str, str]:
        for column, pattern in patterns.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"patterns[{column!r}] is not a valid regex: {exc}") from exc
        return patterns

    @model_validator(mode="after")
    def _age_with_timestamp(self) -> QualitySpec:
        if self.timestamp and self.max_age is None:
            raise ValueError("timestamp is set but max_age is not: say how old data may be")
        return self


@dataclass(frozen=True)
class DimensionScore:
    """One dimension's score 0-5, where it came from, the numbers behind it and why."""

    dimension: Dimension
    score: int
    source: Source
    evidence: Evidence
    reason: str


@dataclass(frozen=True)
class QualityReport:
    """Six dimension scores; ``forced`` is set when training went ahead below the threshold.

    >>> report = score_quality(pd.DataFrame({"x": range(2000), "y": [0, 1] * 1000}))
    >>> report.total, report.passed(18), [d.dimension for d in report.weak()]
    (15, False, ['accuracy', 'timeliness', 'relevance'])
    """

    dimensions: tuple[DimensionScore, ...]
    forced: bool = False

    @property
    def total(self) -> int:
        return sum(d.score for d in self.dimensions)

    def passed(self, threshold: int = 18) -> bool:
        return self.total >= threshold

    def weak(self, below: int = 3) -> tuple[DimensionScore, ...]:
        """Dimensions under ``below`` (3 is the per-dimension share of 18/30)."""
        return tuple(d for d in self.dimensions if d.score < below)

    @property
    def declared(self) -> tuple[DimensionScore, ...]:
        """The dimensions scored from the spec's declaration rather than from the data."""
        return tuple(d for d in self.dimensions if d.source == "declared")

    def headline(self) -> str:
        """The total, and which of its points were self-declared.

        >>> spec = QualitySpec(declared={"timeliness": 4})
        >>> score_quality(pd.DataFrame({"x": range(2000)}), spec).headline()
        '19/30 (4 self-declared, not measured: timeliness 4/5)'
        """
        if not self.declared:
            return f"{self.total}/30"
        points = sum(d.score for d in self.declared)
        which = ", ".join(f"{d.dimension} {d.score}/5" for d in self.declared)
        return f"{self.total}/30 ({points} self-declared, not measured: {which})"

    def __getitem__(self, dimension: Dimension) -> DimensionScore:
        return next(d for d in self.dimensions if d.dimension == dimension)

    def summary(self) -> str:
        lines = [f"{d.dimension:<13}{d.score}/5  {d.source:<13}{d.reason}" for d in self.dimensions]
        return "\n".join([*lines, f"total        {self.total}/30"])


def _grade(value: float, table: Table, higher_is_better: bool = False) -> int:
    for bound, score in table:
        if (value >= bound) if higher_is_better else (value <= bound):
            return score
    return 0


def _measured(dim: Dimension, score: int, evidence: Evidence, reason: str) -> DimensionScore:
    return DimensionScore(dim, score, "measured", evidence, reason)


def _completeness(frame: pd.DataFrame) -> DimensionScore:
    missing = frame.isna().mean()
    rate = float(frame.isna().to_numpy().mean())
    worst = str(missing.idxmax())
    evidence: _Facts = {"missing_rate": rate, "worst_column": worst}
    evidence["worst_column_rate"] = float(missing.max())
    reason = f"{rate:.2%} of cells missing (worst: {worst}, {missing.max():.1%})"
    return _measured("completeness", _grade(rate, COMPLETENESS), evidence, reason)


def _accuracy(frame: pd.DataFrame, spec: QualitySpec) -> DimensionScore | None:
    if not (spec.ranges or spec.categories):
        return None
    bad: dict[str, int] = {}
    checked = 0
    for column, (low, high) in spec.ranges.items():
        values = pd.to_numeric(frame[column].dropna(), errors="coerce")
        inside = values.between(-np.inf if low is None else low, np.inf if high is None else high)
        bad[column], checked = int((~inside).sum()), checked + len(values)
    for column, allowed in spec.categories.items():
        values = frame[column].dropna()
        bad[column] = bad.get(column, 0) + int((~values.isin(allowed)).sum())
        checked += len(values)
    rate = sum(bad.values()) / checked if checked else 0.0
    worst = max(bad, key=bad.__getitem__)
    evidence: _Facts = {"violations": sum(bad.values()), "checked": checked, "rate": rate}
    reason = f"{rate:.2%} of {checked} checked values outside range/categories (worst: {worst})"
    return _measured("accuracy", _grade(rate, ACCURACY), evidence | {"worst_column": worst}, reason)


_FITS: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool | np.bool_) or v in (0, 1),
}


def _off_type(values: pd.Series, kind: DtypeName) -> int:
    if kind in _FITS:
        return int((~values.map(_FITS[kind]).astype(bool)).sum())
    if kind == "datetime":
        return int(pd.to_datetime(values, errors="coerce", utc=True, format="mixed").isna().sum())
    number = pd.to_numeric(values, errors="coerce")
    ok = number.notna() if kind != "int" else number.notna() & (number == number.round())
    return int((~ok).sum())


def _format_violations(frame: pd.DataFrame, spec: QualitySpec) -> dict[str, float]:
    """Per column: the share of non-missing values off its declared (or majority) type/format."""
    rates: dict[str, float] = {}
    for column in frame.columns:
        values = frame[column].dropna()
        if values.empty:
            continue
        off = 0
        if column in spec.dtypes:
            off += _off_type(values, spec.dtypes[column])
        elif pd.api.types.is_object_dtype(values):
            off += len(values) - int(values.map(lambda v: type(v).__name__).value_counts().max())
        if column in spec.patterns:
            matched = values.astype(str).str.fullmatch(spec.patterns[column])
            off += int((~matched.astype(bool)).sum())
        rates[str(column)] = min(1.0, off / len(values))
    return rates


def _consistency(frame: pd.DataFrame, spec: QualitySpec) -> DimensionScore:
    duplicates = int(frame.duplicated().sum())
    rates = _format_violations(frame, spec) or {"": 0.0}
    worst = max(rates, key=rates.__getitem__)
    rate = max(duplicates / len(frame), rates[worst])
    evidence: _Facts = {"duplicate_rows": duplicates, "duplicate_rate": duplicates / len(frame)}
    evidence |= {"worst_format_column": worst, "worst_format_rate": rates[worst]}
    reason = f"{duplicates} duplicate rows; worst column format/type mismatch {rates[worst]:.2%}"
    reason += f" ({worst})" if worst else ""
    return _measured("consistency", _grade(rate, CONSISTENCY), evidence, reason)


def _timeliness(frame: pd.DataFrame, spec: QualitySpec, now: datetime) -> DimensionScore | None:
    if not spec.timestamp or spec.max_age is None:
        return None
    times = pd.to_datetime(frame[spec.timestamp], errors="coerce", utc=True, format="mixed")
    parsed = times.dropna()
    unparseable = int(times.isna().sum() - frame[spec.timestamp].isna().sum())
    if parsed.empty:
        reason = f"no value of {spec.timestamp!r} parses as a timestamp: fix the column's format"
        return _measured("timeliness", 0, {"unparseable": unparseable}, reason)
    newest, oldest = parsed.max(), parsed.min()
    ratio = max(0.0, (pd.Timestamp(now) - newest) / spec.max_age)
    spread = (newest - oldest) / timedelta(days=1)
    evidence: _Facts = {"newest": newest.isoformat(), "age_over_max_age": ratio}
    evidence |= {"spread_days": spread, "unparseable": unparseable}
    evidence["future_rows"] = int((parsed > now).sum())
    reason = f"newest row is {ratio:.2f}× max_age ({spec.max_age}) old; spread {spread:.1f} days"
    return _measured("timeliness", _grade(ratio, TIMELINESS), evidence, reason)


def _codes(values: pd.Series, bins: int = 10, top: int = 20) -> np.ndarray:
    """Integer level codes; numeric values in quantile bins, missing values as their own level."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique() > bins:
        edges = np.unique(np.nanquantile(values, np.linspace(0, 1, bins + 1)))
        if edges.size <= bins // 2:  # a heavy mode (capital-gain: 92% zeros): cut distinct values
            edges = np.unique(np.quantile(values.dropna().unique(), np.linspace(0, 1, bins + 1)))
        values = pd.cut(values, edges, include_lowest=True)
    codes = np.asarray(pd.factorize(values, use_na_sentinel=False)[0])
    counts = np.bincount(codes)
    if counts.size > top:
        remap = np.full(counts.size, top)
        remap[np.argsort(counts)[::-1][:top]] = np.arange(top)
        codes = remap[codes]
    return codes


def uncertainty(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(U = bias-corrected MI(x; y) / H(y), G-test p-value) for two integer code arrays.

    >>> uncertainty(np.array([0, 1] * 50), np.array([0, 1] * 50))[0] > 0.9
    True
    """
    n, ky = x.size, int(y.max()) + 1
    joint = np.bincount(x * ky + y, minlength=(int(x.max()) + 1) * ky).reshape(-1, ky) / n
    px, py = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    mi = float((joint[nz] * np.log(joint[nz] / np.outer(px, py)[nz])).sum())
    dof = (np.count_nonzero(px) - 1) * (np.count_nonzero(py) - 1)
    p_value = float(stats.chi2.sf(2 * n * mi, dof)) if dof else 1.0
    h_y = float(-(py[py > 0] * np.log(py[py > 0])).sum())
    return (float(max(0.0, mi - dof / (2 * n)) / h_y) if h_y > 0 else 0.0), p_value


def _relevance(frame: pd.DataFrame, spec: QualitySpec) -> DimensionScore | None:
    if not spec.target:
        return None
    frame = frame[frame[spec.target].notna()]  # unlabelled rows say nothing about relevance
    features = [c for c in frame.columns if c not in (spec.target, spec.timestamp)]
    y = _codes(frame[spec.target])
    scores: dict[str, float] = {}
    for column in features:
        u, p_value = uncertainty(_codes(frame[column]), y)
        if p_value < 0.01 / len(features):
            scores[str(column)] = u
    if not scores:
        reason = f"no feature is related to {spec.target!r} (G-test, p < 0.01/features)"
        return _measured("relevance", 0, {"features": len(features), "related": 0}, reason)
    best = max(scores, key=scores.__getitem__)
    evidence: _Facts = {"features": len(features)}
    evidence["related"] = sum(u >= 0.01 for u in scores.values())
    evidence |= {"best_feature": best, "best_u": round(scores[best], 4)}
    reason = f"best feature {best!r} has U={scores[best]:.3f}; "
    reason += f"{evidence['related']} of {len(features)} features have U ≥ 0.01"
    return _measured("relevance", _grade(scores[best], RELEVANCE, True), evidence, reason)


def _volume(frame: pd.DataFrame, spec: QualitySpec) -> DimensionScore:
    ratio = len(frame) / spec.min_rows
    evidence: _Facts = {"rows": len(frame), "min_rows": spec.min_rows}
    reason = f"{len(frame)} rows (min {spec.min_rows})"
    target = frame[spec.target] if spec.target else None
    if target is not None and target.nunique() <= 20:
        counts = target.value_counts()
        smallest = str(counts.idxmin())
        evidence |= {"smallest_class": smallest, "smallest_class_rows": int(counts.min())}
        ratio = min(ratio, int(counts.min()) / spec.min_rows_per_class)
        reason += (
            f"; smallest class {smallest!r} has {counts.min()} (min {spec.min_rows_per_class})"
        )
    return _measured("volume", _grade(ratio, VOLUME, True), evidence, reason)


_HOW: dict[Dimension, str] = {
    "accuracy": "add ranges or categories to the spec",
    "timeliness": "name a timestamp column and max_age",
    "relevance": "name the target column",
}


def off_type_share(frame: pd.DataFrame, spec: QualitySpec) -> float:
    """Share of non-missing cells off their column's declared (or majority) type or format.

    >>> off_type_share(pd.DataFrame({"n": pd.Series([1, 2, "x", 4], dtype=object)}), QualitySpec())
    0.25
    """
    cells = frame.notna().sum()
    rates = _format_violations(frame, spec)
    off = sum(rate * int(cells[column]) for column, rate in rates.items())
    total = int(cells.sum())
    return off / total if total else 0.0


def _unmeasured(dimension: Dimension, spec: QualitySpec, off_type: float) -> DimensionScore:
    if dimension in spec.declared:
        score = spec.declared[dimension]
        evidence: _Facts = {"declared": score}
        reason = "self-declared in the spec (the data cannot measure it)"
        ceiling = _grade(off_type, ACCURACY) if dimension == "accuracy" else 5
        if score > ceiling:  # an off-type value cannot be an accurate one
            evidence |= {"capped_to": ceiling, "off_type_share": off_type}
            reason = (
                f"self-declared {score}, capped to {ceiling}: {off_type:.2%} of the values are "
                "off their column's type, so at least that share is inaccurate; fix the values "
                "or measure accuracy with ranges/categories"
            )
            score = ceiling
        return DimensionScore(dimension, score, "declared", evidence, reason)
    how = _HOW.get(dimension, "")
    reason = f"not measured: {how}, or declare it: QualitySpec(declared={{{dimension!r}: 0-5}})"
    return DimensionScore(dimension, 0, "not measured", {}, reason)


def _check_columns(frame: pd.DataFrame, spec: QualitySpec) -> None:
    named = {spec.target, spec.timestamp, *spec.dtypes, *spec.patterns}
    missing = sorted(c for c in named | {*spec.ranges, *spec.categories} if c is not None)
    missing = [c for c in missing if c not in frame.columns]
    if missing:
        raise DataError(
            f"the quality spec names columns the data lacks: {missing}; "
            f"the data has {list(frame.columns)[:20]}: fix the spec or the column names"
        )
    if frame.empty:
        raise DataError("the dataset has no rows: check the file or query that produced it")


def score_quality(
    frame: pd.DataFrame, spec: QualitySpec | None = None, now: datetime | None = None
) -> QualityReport:
    """Score ``frame`` on the six dimensions (rubric in the module docstring).

    ``now`` (default: the current UTC time; a naive value is taken as UTC) is what timeliness
    measures the newest timestamp against.

    >>> frame = pd.DataFrame({"x": range(2000), "y": [0, 1] * 1000})
    >>> score_quality(frame, QualitySpec(target="y"))["volume"].score
    5
    """
    spec = spec or QualitySpec()
    _check_columns(frame, spec)
    when = now or datetime.now(UTC)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    measured: dict[Dimension, DimensionScore | None] = {
        "completeness": _completeness(frame),
        "accuracy": _accuracy(frame, spec),
        "consistency": _consistency(frame, spec),
        "timeliness": _timeliness(frame, spec, when),
        "relevance": _relevance(frame, spec),
        "volume": _volume(frame, spec),
    }
    off_type = off_type_share(frame, spec) if "accuracy" in spec.declared else 0.0
    scores = []
    for d in DIMENSIONS:
        score = measured[d]
        if score is not None and d in spec.declared:  # the data outranks the declaration
            reason = f"{score.reason} (declared {spec.declared[d]} ignored: measured)"
            score = replace(score, reason=reason)
        scores.append(score or _unmeasured(d, spec, off_type))
    return QualityReport(tuple(scores))


def require_quality(
    report: QualityReport, threshold: int = 18, force: bool = False
) -> QualityReport:
    """Return ``report`` if it reaches ``threshold``; else raise QualityTooLow, unless ``force``.

    Forced, it logs a warning and returns the report with ``forced=True``, for the run to record.

    >>> report = score_quality(pd.DataFrame({"x": range(2000)}))
    >>> require_quality(report, 18, force=True).forced
    True
    """
    if report.passed(threshold):
        if report.total - sum(d.score for d in report.declared) < threshold:
            log.warning("data quality %s passes only on self-declared scores", report.headline())
        return report
    lowest = min(d.score for d in report.dimensions)
    weak = report.weak() or tuple(d for d in report.dimensions if d.score == lowest)
    weak_text = ", ".join(f"{d.dimension} {d.score}/5 ({d.reason})" for d in weak)
    message = (
        f"data quality {report.headline()} is under the threshold {threshold}; weak dimensions: "
        f"{weak_text}. Fix the data, declare scores for unmeasured dimensions, or force training"
    )
    if not force:
        raise QualityTooLow(message)
    log.warning("training forced: %s", message)
    return replace(report, forced=True)
