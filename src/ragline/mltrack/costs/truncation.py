"""Truncated answers by purpose: how often ``max_tokens`` cut a reply short, and what cap the
data suggests (``ragline costs report --truncated``).

    calls = ledger.completions(since, until)          # one `Completed` per model call
    for row in truncation_report(calls, by="purpose"):
        row.group, row.calls, row.truncated, row.share, row.p95, row.suggested, row.advice

The rule (`suggest`), pinned by tests:
- no call with a recorded finish_reason: nothing to say ("not recorded");
- more than `MAX_TRUNCATED_SHARE` (5%) of the calls ended with "length": "raise the cap"
  (the untruncated lengths understate what the answers need, so no number is suggested);
- fewer than `MIN_CALLS` (20) untruncated calls: "too few calls" (a p99 of a handful is noise);
- otherwise the p99 (nearest rank) of the untruncated completions' tokens rounded up to a
  multiple of `ROUND_TO` (16): a cap that 99% of the answers that finished fit under.

A purpose is the request's prompt template name without its version ("grounded-answer@2" ->
"grounded-answer", `ragline.llm_router.caps`: the keys of ``llm.max_tokens``); "-" for requests
built without a template. Pure: the ledger reads the calls, this only counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_TRUNCATED_SHARE",
    "MIN_CALLS",
    "ROUND_TO",
    "Completed",
    "TruncationBy",
    "TruncationRow",
    "nearest_rank",
    "suggest",
    "truncation_report",
]

MAX_TRUNCATED_SHARE = 0.05
MIN_CALLS = 20
ROUND_TO = 16
TruncationBy = Literal["purpose", "model", "route"]


@dataclass(frozen=True, slots=True)
class Completed:
    """One model call as the ledger recorded it (`ragline.mltrack.costs.ledger.Ledger`).

    Example:
        >>> Completed("judge-faithfulness@1", "vllm:qwen", "fixed", 40, "stop").purpose
        'judge-faithfulness'
    """

    prompt: str | None
    model: str
    route: str | None
    tokens_out: int
    finish_reason: str | None

    @property
    def purpose(self) -> str:
        """The prompt template's name without its version; "-" without a template."""
        return self.prompt.partition("@")[0] if self.prompt else "-"


@dataclass(frozen=True, slots=True)
class TruncationRow:
    """One group's calls, truncated calls (finish_reason "length") and their share of the calls
    with a recorded finish_reason, completion tokens (p50, p95, max over every call), and the
    suggested cap (None when the advice is not a number).

    Example:
        >>> TruncationRow("judge", 40, 1, 0.025, 60, 120, 256, 144, "cap at 144").advice
        'cap at 144'
    """

    group: str
    calls: int
    truncated: int
    share: float | None
    p50: int
    p95: int
    max: int
    suggested: int | None
    advice: str


def nearest_rank(values: Sequence[int], q: float) -> int:
    """The nearest-rank percentile `q` (0-1] of `values`: the smallest value with at least
    q of them at or below it.

    Example:
        >>> nearest_rank([10, 20, 30, 40], 0.5), nearest_rank([10, 20, 30, 40], 0.99)
        (20, 40)
    """
    if not values:
        raise ValueError("no values: a percentile needs at least one")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def suggest(untruncated: Sequence[int], truncated: int) -> tuple[int | None, str]:
    """The suggested cap and the advice for a group (see the module docstring).

    Example:
        >>> suggest([100] * 30 + [130], truncated=0)
        (144, 'cap at 144')
        >>> suggest([100] * 30, truncated=3)
        (None, 'raise the cap: 9.1% truncated')
    """
    known = len(untruncated) + truncated
    if known == 0:
        return None, "not recorded (no finish_reason)"
    share = truncated / known
    if share > MAX_TRUNCATED_SHARE:
        return None, f"raise the cap: {share:.1%} truncated"
    if len(untruncated) < MIN_CALLS:
        return None, f"too few calls ({len(untruncated)} < {MIN_CALLS} finished)"
    p99 = nearest_rank(untruncated, 0.99)
    cap = max(ROUND_TO, math.ceil(p99 / ROUND_TO) * ROUND_TO)
    return cap, f"cap at {cap}"


def truncation_report(
    calls: Iterable[Completed], by: TruncationBy = "purpose"
) -> list[TruncationRow]:
    """One row per group (sorted by name) of the calls' truncation and completion lengths.

    Example:
        >>> rows = truncation_report([Completed("condense@1", "m", None, 96, "length")])
        >>> rows[0].group, rows[0].truncated, rows[0].share, rows[0].advice
        ('condense', 1, 1.0, 'raise the cap: 100.0% truncated')
    """
    groups: dict[str, list[Completed]] = {}
    for call in calls:
        key = call.purpose if by == "purpose" else call.model if by == "model" else call.route
        groups.setdefault(key or "-", []).append(call)
    return [_row(name, groups[name]) for name in sorted(groups)]


def _row(group: str, calls: list[Completed]) -> TruncationRow:
    tokens = [c.tokens_out for c in calls]
    cut = sum(c.finish_reason == "length" for c in calls)
    finished = [c.tokens_out for c in calls if c.finish_reason not in (None, "length")]
    known = cut + len(finished)
    suggested, advice = suggest(finished, cut)
    return TruncationRow(
        group,
        len(calls),
        cut,
        cut / known if known else None,
        nearest_rank(tokens, 0.5),
        nearest_rank(tokens, 0.95),
        max(tokens),
        suggested,
        advice,
    )
