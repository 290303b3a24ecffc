"""Target copies a single-feature score misses: a relabelled label, and two columns summed.

    copy = label_copy(frame["flag"], frame["churned"])     # None, or the agreement and kappa
    copy.agreement, copy.kappa                             # 0.92, 0.84: a copy with 8% flips
    pairs = linear_pairs(frame, frame["total"], min_r2=0.96)
    pairs[0].a, pairs[0].b, pairs[0].r2                    # "net", "tax", 1.0: net + tax = total

``label_copy``: a feature with exactly as many levels as the target (2-20) is matched one-to-one
to the target's classes (the assignment that maximises agreement, Hungarian algorithm on the
contingency table). A copy with a few flipped labels agrees on most rows, far above chance; an
out-of-fold ROC-AUC only says "strong" (8% flips of a balanced label give AUC 0.92, under the
0.99 bar). Cohen's kappa, agreement corrected for chance, keeps a feature that merely agrees
with a dominant majority class from looking like a copy. Cost: O(n) per feature.

``linear_pairs``: the R² of the target on every pair of numeric columns (least squares with an
intercept), from the correlation matrix: with r_a, r_b the correlations with the target and r_ab
between the columns, R² = (r_a² + r_b² − 2·r_a·r_b·r_ab) / (1 − r_ab²). Pairs that reach
``min_r2`` while neither column does alone are refitted on every complete row, and kept if they
still reach it. Cost: O(s·p²) time and O(p²) memory for the correlations of p numeric columns on
s ≤ ``SAMPLE_ROWS`` sampled rows, plus O(n) per refitted pair (at most ``MAX_REFITS``). Wider
tables keep the ``MAX_COLUMNS`` columns most correlated with the target; a pair such as
``a = target − b`` with a noisy ``b`` can hide among the rest, which the finding's absence does
not rule out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

MAX_CLASSES = 20  # more levels than this: not a label
MIN_ROWS = 30
SAMPLE_ROWS = 2_000
MAX_COLUMNS = 1_000  # 1,000 columns: a 1,000 x 1,000 matrix, ~2e9 multiply-adds
MAX_REFITS = 10


@dataclass(frozen=True, slots=True)
class LabelCopy:
    """How closely a feature, relabelled one-to-one onto the classes, reproduces the target.

    Example:
        >>> y = pd.Series([0, 1] * 50)
        >>> label_copy(1 - y, y).agreement
        1.0
    """

    agreement: float  # share of rows where the relabelled feature equals the target
    kappa: float  # Cohen's kappa: agreement beyond what the two marginals give by chance
    rows: int


@dataclass(frozen=True, slots=True)
class PairFit:
    """Two numeric columns whose linear combination reproduces the target.

    Example:
        >>> PairFit("net", "tax", 1.0, 1.0, 0.0, 1.0).formula
        'target ≈ 1·net + 1·tax + 0'
    """

    a: str
    b: str
    coef_a: float
    coef_b: float
    intercept: float
    r2: float

    @property
    def formula(self) -> str:
        terms = f"{self.coef_a:.3g}·{self.a} + {self.coef_b:.3g}·{self.b}"
        return f"target ≈ {terms} + {self.intercept:.3g}"


def label_copy(x: pd.Series, y: pd.Series) -> LabelCopy | None:
    """The agreement of ``x`` with ``y`` under the best one-to-one relabelling; None when ``x``
    has not the same number of levels (2-20) as ``y``, or fewer than ``MIN_ROWS`` rows have both."""
    both = x.notna().to_numpy() & y.notna().to_numpy()
    x_codes, x_levels = pd.factorize(x[both])
    y_codes, y_levels = pd.factorize(y[both])
    k, n = len(y_levels), int(both.sum())
    if len(x_levels) != k or not 2 <= k <= MAX_CLASSES or n < MIN_ROWS:
        return None
    table = np.zeros((k, k))
    np.add.at(table, (x_codes, y_codes), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    agreement = float(table[rows, cols].sum() / n)
    chance = float((table.sum(axis=1)[rows] * table.sum(axis=0)[cols]).sum() / n**2)
    kappa = (agreement - chance) / (1 - chance) if chance < 1 else 0.0
    return LabelCopy(agreement, kappa, n)


def _standardised(frame: pd.DataFrame) -> np.ndarray:
    values = frame.to_numpy(dtype="float64")
    values = values - np.nanmean(values, axis=0)
    values = np.where(np.isnan(values), 0.0, values)  # missing: the mean, no pull either way
    spread = values.std(axis=0)
    return values / np.where(spread > 0, spread, 1.0)  # constant in the sample: all zeros


def _candidates(numeric: pd.DataFrame, target: pd.Series, min_r2: float) -> list[tuple[str, str]]:
    """Pairs whose R² on a row sample reaches ``min_r2`` while neither column alone does."""
    sample = numeric.sample(n=min(len(numeric), SAMPLE_ROWS), random_state=0)
    z = _standardised(sample)
    t = _standardised(target.loc[sample.index].to_frame())[:, 0]
    r = z.T @ t / len(t)
    if z.shape[1] > MAX_COLUMNS:
        keep = np.sort(np.argsort(-np.abs(r))[:MAX_COLUMNS])
        z, r, sample = z[:, keep], r[keep], sample.iloc[:, keep]
    corr = np.clip(z.T @ z / len(t), -1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = (r[:, None] ** 2 + r[None, :] ** 2 - 2 * np.outer(r, r) * corr) / (1 - corr**2)
    alone = r**2 >= min_r2
    usable = (1 - corr**2 > 1e-9) & ~alone[:, None] & ~alone[None, :]
    r2 = np.where(np.triu(usable, k=1), np.nan_to_num(r2, nan=-1.0), -1.0)
    flat = np.argsort(-r2, axis=None)[:MAX_REFITS]
    found = [np.unravel_index(i, r2.shape) for i in flat if r2.flat[i] >= min_r2 - 0.02]
    names = list(sample.columns)
    return [(str(names[i]), str(names[j])) for i, j in found]


def _refit(a: pd.Series, b: pd.Series, target: pd.Series) -> tuple[float, float, float, float]:
    """(coef_a, coef_b, intercept, R²) of least squares on the rows where all three are known."""
    rows = pd.concat([a, b, target], axis=1).dropna().to_numpy(dtype="float64")
    design = np.column_stack([rows[:, :2], np.ones(len(rows))])
    coef, *_ = np.linalg.lstsq(design, rows[:, 2], rcond=None)
    residual = rows[:, 2] - design @ coef
    total = float(((rows[:, 2] - rows[:, 2].mean()) ** 2).sum())
    r2 = 1 - float((residual**2).sum()) / total if total > 0 else 0.0
    return float(coef[0]), float(coef[1]), float(coef[2]), r2


def linear_pairs(frame: pd.DataFrame, target: pd.Series, min_r2: float) -> list[PairFit]:
    """Pairs of numeric columns of ``frame`` that reproduce the numeric ``target`` linearly
    (R² ≥ ``min_r2`` on every complete row) while neither does alone; best first."""
    numeric = frame.select_dtypes("number").select_dtypes(exclude="bool")
    numeric = numeric.loc[:, numeric.nunique() > 1]
    if numeric.shape[1] < 2 or len(frame) < MIN_ROWS or not target.std() > 0:
        return []
    fits = []
    for a, b in _candidates(numeric, target.astype("float64"), min_r2):
        coef_a, coef_b, intercept, r2 = _refit(numeric[a], numeric[b], target)
        if r2 >= min_r2:
            fits.append(PairFit(a, b, coef_a, coef_b, intercept, r2))
    return sorted(fits, key=lambda f: -f.r2)
