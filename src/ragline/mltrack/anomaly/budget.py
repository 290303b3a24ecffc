"""The alert budget: the score threshold above which production flags a row.

    threshold = budget_threshold(valid_scores, share=0.01)   # at most ~1% of rows flagged
    flagged = scores >= threshold

The threshold is the smallest score among the top ``ceil(share · n)`` validation scores, so on
those rows exactly that many are flagged (more only on ties); production rows drawn like them
are flagged at about the same rate. The validation split, not the train split, sets it: an
Isolation Forest scores the rows it was built on a little more typical than new ones.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ragline.mltrack.errors import DataError

FloatArray = npt.NDArray[np.float64]


def budget_threshold(scores: npt.ArrayLike, share: float) -> float:
    """The score at or above which ``share`` of ``scores`` lie; see the module docstring.

    Example:
        >>> budget_threshold([0.1, 0.9, 0.5, 0.7, 0.3, 0.2, 0.4, 0.8, 0.6, 0.35], share=0.2)
        0.8
    """
    s = np.asarray(scores, dtype=np.float64)
    s = s[~np.isnan(s)]
    if s.size == 0:
        raise DataError("the alert budget needs scored validation rows; add rows to the table")
    if not 0 < share < 1:
        raise DataError(f"anomaly.alert_budget: {share} is not a share in (0, 1)")
    k = max(1, math.ceil(share * s.size))
    return float(np.sort(s)[::-1][k - 1])


def flagged_share(scores: npt.ArrayLike, threshold: float) -> float:
    """The share of ``scores`` at or above ``threshold``.

    Example:
        >>> flagged_share([0.1, 0.5, 0.9, 0.95], 0.9)
        0.5
    """
    s = np.asarray(scores, dtype=np.float64)
    return float((s >= threshold).mean()) if s.size else 0.0
