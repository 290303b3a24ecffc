"""The shared result type of every evals metric: an `Aggregate` that is never NaN.

Per-item metric functions return ``float | None``; ``None`` (``UNMEASURED``) means the metric could
not be measured for that item (a judge failed, recall with no relevant documents, ROC-AUC with one
class present). `aggregate` averages the measured values and counts the rest, so a report can say
"0.71 over 940 queries, 60 unmeasured" instead of printing NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

UNMEASURED: Final = None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A metric's mean over the items where it could be measured, with counts and an optional CI.

    ``value`` is None (JSON null) when nothing was measured; it is never NaN.

    Example:
        >>> agg = aggregate("recall@10", [1.0, 0.5, None])
        >>> (agg.value, agg.measured, agg.unmeasured)
        (0.75, 2, 1)
    """

    name: str
    value: float | None
    measured: int
    unmeasured: int
    ci_low: float | None = None  # bootstrap 95% CI, when computed (ragline.evals.stats.with_ci)
    ci_high: float | None = None


def measured_values(name: str, values: Sequence[float | None]) -> list[float]:
    """The measured (non-None) values, as floats; refuses NaN/inf so they cannot hide in a mean."""
    out: list[float] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(
                f"metric {name!r}: item {i} is {f!r}; a metric that cannot be measured must "
                "return None (UNMEASURED), not NaN or infinity"
            )
        out.append(f)
    return out


def aggregate(name: str, values: Sequence[float | None]) -> Aggregate:
    """Mean over the measured values, with measured/unmeasured counts; None when nothing measured.

    Example:
        >>> aggregate("mrr", [None, None]).value is None
        True
    """
    measured = measured_values(name, values)
    value = math.fsum(measured) / len(measured) if measured else None
    return Aggregate(
        name=name,
        value=value,
        measured=len(measured),
        unmeasured=len(values) - len(measured),
    )
