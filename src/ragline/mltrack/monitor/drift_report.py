"""Drift between a reference and a current table: per-feature statistics and severities.

    report = drift_report(reference_df, current_df, DriftThresholds(psi_critical=0.3))
    report.severity                    # "ok" | "warning" | "critical" | "insufficient_data"

The statistics are `ragline.mltrack.monitor.drift`'s. Severity rules (``DriftThresholds``):

- Fewer than ``min_rows`` non-missing values on either side: ``insufficient_data``, no alarm.
- Numeric: the worse of PSI's and JS's levels, standing only when KS's p-value is under
  ``ks_pvalue``. PSI is biased upwards in small samples (about (bins-1)(1/n_ref + 1/n_cur)
  with no drift: 0.18 at 100 rows a side); KS confirms the shift is not noise. A significant
  KS with PSI and JS under their warning thresholds stays ``ok``: a million rows make trivial
  shifts significant.
- Categorical (strings, booleans, and numeric columns holding just 0 and 1 in the reference:
  a flag or a 0/1 label is two categories, not a distribution): PSI over category shares,
  standing only when the chi-square p-value is under ``chi2_pvalue`` and Cramér's V is at
  least ``min_cramers_v``.
- Overall: the worst feature; ``critical`` when at least ``drifted_share_critical`` of the
  measured features, and at least ``drifted_count_critical`` of them, are at warning or worse
  (many features moving together is a dataset shift). ``insufficient_data`` only when no
  feature could be measured. NaNs are left out of the statistics; the missing shares are
  reported per feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragline.mltrack.errors import DataError
from ragline.mltrack.monitor.drift import chi_square, numeric_drift

Kind = Literal["numeric", "categorical"]
Severity = Literal["ok", "warning", "critical", "insufficient_data"]
_RANK: dict[Severity, int] = {"insufficient_data": -1, "ok": 0, "warning": 1, "critical": 2}


class DriftThresholds(BaseModel):
    """When a feature's drift is a warning or critical (playbook: PSI 0.1 / 0.25).

    >>> DriftThresholds(psi_critical=0.3).psi_warning
    0.1
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    psi_warning: float = Field(0.1, gt=0)
    psi_critical: float = Field(0.25, gt=0)
    js_warning: float = Field(0.1, gt=0, le=1, description="JS divergence, bits")
    js_critical: float = Field(0.2, gt=0, le=1)
    ks_pvalue: float = Field(0.01, gt=0, lt=1, description="KS must be significant to alarm")
    chi2_pvalue: float = Field(0.01, gt=0, lt=1)
    min_cramers_v: float = Field(0.1, ge=0, le=1, description="smallest categorical effect")
    min_rows: int = Field(100, ge=1, description="non-missing rows needed on each side")
    bins: int = Field(10, ge=2, le=100, description="reference quantile bins for PSI and JS")
    drifted_share_critical: float = Field(0.5, gt=0, le=1)
    drifted_count_critical: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> DriftThresholds:
        if self.psi_warning > self.psi_critical or self.js_warning > self.js_critical:
            raise ValueError("a warning threshold is above its critical one; swap them")
        return self


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's statistics, severity and the reason for it (None: not applicable)."""

    name: str
    kind: Kind
    n_ref: int
    n_cur: int
    missing_ref: float
    missing_cur: float
    psi: float | None
    ks: float | None
    ks_pvalue: float | None
    js: float | None
    chi2_pvalue: float | None
    cramers_v: float | None
    severity: Severity
    reason: str


@dataclass(frozen=True)
class DriftReport:
    """Per-feature drift and the overall severity.

    >>> ref = pd.DataFrame({"x": np.arange(200.0)})
    >>> drift_report(ref, ref + 1000.0, DriftThresholds()).severity
    'critical'
    """

    features: tuple[FeatureDrift, ...]
    severity: Severity
    reason: str
    n_ref: int
    n_cur: int


def _level(value: float, warning: float, critical: float) -> Severity:
    return "critical" if value >= critical else "warning" if value >= warning else "ok"


def _worst(*levels: Severity) -> Severity:
    return max(levels, key=_RANK.__getitem__)


def _judge_numeric(psi_v: float, js_v: float, p: float, t: DriftThresholds) -> tuple[Severity, str]:
    effect = _worst(
        _level(psi_v, t.psi_warning, t.psi_critical), _level(js_v, t.js_warning, t.js_critical)
    )
    numbers = f"PSI {psi_v:.3f}, JS {js_v:.3f}, KS p {p:.2g}"
    if effect == "ok":
        return "ok", f"{numbers}: under the warning thresholds"
    if not p < t.ks_pvalue:
        return "ok", f"{numbers}: KS p >= {t.ks_pvalue}, not told apart from sampling noise"
    limits = f"PSI {t.psi_warning}/{t.psi_critical}, JS {t.js_warning}/{t.js_critical}"
    return effect, f"{numbers}: {effect} ({limits})"


def _numeric_features(
    ref: pd.DataFrame, cur: pd.DataFrame, names: list[str], t: DriftThresholds
) -> list[FeatureDrift]:
    ref_values = ref[names].to_numpy(dtype=np.float64, na_value=np.nan)
    cur_values = cur[names].to_numpy(dtype=np.float64, na_value=np.nan)
    out = numeric_drift(ref_values, cur_values, t.bins)
    features = []
    for j, name in enumerate(names):
        n_ref, n_cur = int(out.n_ref[j]), int(out.n_cur[j])
        values = (float(out.psi[j]), float(out.ks[j]), float(out.ks_pvalue[j]), float(out.js[j]))
        if min(n_ref, n_cur) < t.min_rows:
            severity: Severity = "insufficient_data"
            reason = f"{n_ref} reference / {n_cur} current values; need {t.min_rows} a side"
        else:
            severity, reason = _judge_numeric(values[0], values[3], values[2], t)
            if np.nanmin(ref_values[:, j]) == np.nanmax(ref_values[:, j]):
                reason += "; constant in the reference"
        features.append(
            FeatureDrift(
                name,
                "numeric",
                n_ref,
                n_cur,
                1 - n_ref / max(len(ref), 1),
                1 - n_cur / max(len(cur), 1),
                *values[:2],
                values[2],
                values[3],
                None,
                None,
                severity,
                reason,
            )
        )
    return features


def _categorical_feature(ref: pd.Series, cur: pd.Series, t: DriftThresholds) -> FeatureDrift:
    n_ref, n_cur = int(ref.notna().sum()), int(cur.notna().sum())
    result = chi_square(ref, cur)
    severity: Severity = "insufficient_data"
    reason = f"{n_ref} reference / {n_cur} current values; need {t.min_rows} a side"
    if min(n_ref, n_cur) >= t.min_rows:
        numbers = f"PSI {result.psi:.3f}, chi2 p {result.pvalue:.2g}, V {result.cramers_v:.3f}"
        severity = _level(result.psi, t.psi_warning, t.psi_critical)
        if severity == "ok":
            reason = f"{numbers}: under the warning thresholds"
        elif not (result.pvalue < t.chi2_pvalue and result.cramers_v >= t.min_cramers_v):
            severity, reason = "ok", f"{numbers}: not significant, or V < {t.min_cramers_v}"
        else:
            reason = f"{numbers}: {severity} (PSI {t.psi_warning}/{t.psi_critical})"
    return FeatureDrift(
        str(ref.name),
        "categorical",
        n_ref,
        n_cur,
        1 - n_ref / max(len(ref), 1),
        1 - n_cur / max(len(cur), 1),
        result.psi,
        None,
        None,
        None,
        result.pvalue,
        result.cramers_v,
        severity,
        reason,
    )


def _select(ref: pd.DataFrame, cur: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    wanted = list(columns) if columns is not None else list(dict.fromkeys([*ref, *cur]))
    missing_ref = [c for c in wanted if c not in ref.columns]
    missing_cur = [c for c in wanted if c not in cur.columns]
    if missing_ref or missing_cur:
        raise DataError(
            f"columns missing from the reference: {missing_ref or 'none'}; from the current: "
            f"{missing_cur or 'none'}. Compare only shared columns (columns=...) or fix the files"
        )
    if not wanted:
        raise DataError("no columns to compare; give tables with at least one shared column")
    return wanted


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def is_binary(series: pd.Series) -> bool:
    """True for a numeric column holding both 0 and 1 and nothing else (a flag or a label): its
    values are categories, tested with chi-square, not with PSI/KS on two spikes.

    >>> is_binary(pd.Series([0, 1, 1, None])), is_binary(pd.Series([0.0, 0.5, 1.0]))
    (True, False)
    """
    if not _is_numeric(series):
        return False
    values = series.dropna().unique()
    return values.size == 2 and bool(np.isin(values, (0, 1)).all())


def _as_categories(series: pd.Series) -> pd.Series:
    """Numbers as floats, so an int 1 and a float 1.0 (a CSV column with gaps) are one category."""
    if not _is_numeric(series):
        return series
    return pd.Series(series.to_numpy(np.float64, na_value=np.nan), name=series.name)


def _overall(features: list[FeatureDrift], t: DriftThresholds) -> tuple[Severity, str]:
    measured = [f for f in features if f.severity != "insufficient_data"]
    if not measured:
        return "insufficient_data", f"no feature has {t.min_rows} values on both sides"
    drifted = sum(f.severity in ("warning", "critical") for f in measured)
    worst = _worst(*(f.severity for f in measured))
    share = drifted / len(measured)
    reason = f"{drifted} of {len(measured)} measured features drifted ({share:.0%})"
    dataset_shift = share >= t.drifted_share_critical and drifted >= t.drifted_count_critical
    if worst == "warning" and dataset_shift:
        return "critical", f"{reason}: {t.drifted_share_critical:.0%} or more, a dataset shift"
    return worst, reason


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: DriftThresholds | None = None,
    columns: Sequence[str] | None = None,
) -> DriftReport:
    """Compare every (or each named) column of two tables; numeric and categorical by dtype.

    >>> ref = pd.DataFrame({"x": np.arange(50.0)})
    >>> drift_report(ref, ref).features[0].severity
    'insufficient_data'
    """
    t = thresholds or DriftThresholds()
    names = _select(reference, current, columns)
    numeric = [c for c in names if _is_numeric(reference[c]) and not is_binary(reference[c])]
    wrong = [c for c in numeric if not _is_numeric(current[c]) and current[c].notna().any()]
    if wrong:
        raise DataError(f"columns numeric in the reference but not in the current: {wrong}")
    found = (
        {f.name: f for f in _numeric_features(reference, current, numeric, t)} if numeric else {}
    )
    for name in names:
        if name not in found:
            ref_col, cur_col = _as_categories(reference[name]), _as_categories(current[name])
            found[name] = _categorical_feature(ref_col, cur_col, t)
    features = [found[name] for name in names]
    severity, reason = _overall(features, t)
    return DriftReport(tuple(features), severity, reason, len(reference), len(current))
