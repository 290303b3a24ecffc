"""PNG plots for evaluation reports: precision-recall, calibration, metric slices.

    curve = interpolated_pr(run, qrels)
    plot_pr_curve(curve, out / "pr.png", title="manpages: hybrid retrieval")

matplotlib is imported inside the functions, so importing this module stays cheap (a report
without plots never loads it). Each plot is drawn on its own ``matplotlib.figure.Figure`` with the
Agg canvas, never through pyplot: no global figure registry, so nothing leaks and concurrent
reports do not share state. The PNGs are reproducible byte for byte: fixed size and dpi, and no
"Software" version stamp in the metadata. Values that were not measured are drawn as labelled
gaps, never as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: importing them at run time would load sklearn and scipy
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ragline.evals.metrics.classical import ReliabilityCurve
    from ragline.evals.metrics.curves import PrCurve
    from ragline.evals.report import SliceResult

DPI = 100
_SIZE = (6.4, 4.8)  # inches; with DPI, 640 x 480 pixels
_BAR_INCHES = 0.45  # height per group in a slice plot


def _new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        fig.clear()  # drop the artists now; the figure belongs to no registry, so that is all
    return path


def _plain(text: str) -> str:
    """Text shown as written: an unescaped "$" would start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def _pr_figure(curve: PrCurve, title: str) -> Figure:
    fig = _new_figure(_SIZE)
    ax = fig.add_subplot()
    if curve.queries:
        label = f"{curve.queries} queries"
        ax.plot(curve.recall, curve.precision, marker="o", label=label)
        ax.legend(loc="lower left")
    else:  # an unmeasured curve is not a curve at zero
        ax.text(0.5, 0.5, "unmeasured: no query has a relevant document", ha="center")
    ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.05), xlabel="recall", ylabel="interpolated precision")
    ax.set_title(_plain(title))
    ax.grid(True, alpha=0.3)
    return fig


def plot_pr_curve(curve: PrCurve, path: Path, title: str) -> Path:
    """Write the 11-point interpolated precision-recall curve as a PNG; returns ``path``.

    A curve with ``queries == 0`` (nothing to average) is drawn as a labelled empty plot.

    Example:
        >>> curve = interpolated_pr({"q1": ["a", "x", "b"]}, {"q1": {"a": 1, "b": 1}})
        >>> plot_pr_curve(curve, tmp / "pr.png", title="demo").name
        'pr.png'
    """
    return _save(_pr_figure(curve, title), path)


def _calibration_figure(curve: ReliabilityCurve, ece: float | None, title: str) -> Figure:
    fig = _new_figure(_SIZE)
    ax = fig.add_subplot()
    ax.plot((0.0, 1.0), (0.0, 1.0), linestyle="--", color="grey", label="perfectly calibrated")
    edges = curve.bin_edges
    filled = [
        (edges[i], edges[i + 1] - edges[i], predicted, observed, count)
        for i, (predicted, observed, count) in enumerate(
            zip(curve.mean_predicted, curve.fraction_positive, curve.counts, strict=True)
        )
        if count > 0 and predicted is not None and observed is not None
    ]
    error = "ECE unmeasured" if ece is None else f"ECE = {ece:.4f}"
    if filled:
        left, width, predicted, observed, counts = zip(*filled, strict=True)
        ax.bar(left, observed, width=width, align="edge", alpha=0.3, edgecolor="C0")
        ax.plot(predicted, observed, marker="o", color="C0", label=f"observed ({error})")
        for x, y, n in zip(predicted, observed, counts, strict=True):
            ax.annotate(
                f"n={n}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8
            )
    else:
        ax.text(0.5, 0.5, f"no samples ({error})", ha="center", va="center")
    ax.set(xlim=(-0.03, 1.03), ylim=(-0.03, 1.12))  # margins keep the n= labels at 0 and 1
    ax.set(xlabel="mean predicted probability", ylabel="fraction positive")
    ax.set_title(_plain(title))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return fig


def plot_calibration(curve: ReliabilityCurve, ece: float | None, path: Path, title: str) -> Path:
    """Write a reliability diagram (bins against the diagonal, ECE in the legend) as a PNG.

    Bins with no samples are left out; each drawn bin is labelled with its count.

    Example:
        >>> curve, error = top_hit_calibration([0.2, 0.9, 0.5], [False, True, True])
        >>> plot_calibration(curve, error, tmp / "calibration.png", title="top hit").name
        'calibration.png'
    """
    return _save(_calibration_figure(curve, ece, title), path)


def _x_range(chosen: Sequence[SliceResult]) -> tuple[float, float]:
    points = [0.0]
    for s in chosen:
        agg = s.aggregate
        points += [v for v in (agg.value, agg.ci_low, agg.ci_high) if v is not None]
    lo, hi = min(points), max(points)
    if hi == lo:
        hi = lo + 1.0  # nothing measured, or everything zero: still draw a readable axis
    return lo, hi


def _draw_slice(ax: Axes, y: int, s: SliceResult, lo: float, span: float) -> None:
    agg = s.aggregate
    extra = f", {agg.unmeasured} unmeasured" if agg.unmeasured else ""
    if agg.value is None:
        ax.barh(y, span, left=lo, fill=False, edgecolor="grey", linestyle=":")
        ax.text(
            lo + 0.02 * span,
            y,
            f"unmeasured (n={agg.measured}{extra})",
            va="center",
            color="dimgrey",
            fontstyle="italic",
        )
        return
    ax.barh(y, agg.value, color="C0")
    end = max(agg.value, 0.0)
    if agg.ci_low is not None and agg.ci_high is not None:
        below, above = max(agg.value - agg.ci_low, 0.0), max(agg.ci_high - agg.value, 0.0)
        ax.errorbar(agg.value, y, xerr=[[below], [above]], fmt="none", ecolor="black", capsize=3)
        end = max(end, agg.ci_high)
    ax.text(end + 0.02 * span, y, f"{agg.value:.3f} (n={agg.measured}{extra})", va="center")


def _slices_figure(chosen: Sequence[SliceResult], metric: str, field: str, title: str) -> Figure:
    fig = _new_figure((_SIZE[0], 1.4 + _BAR_INCHES * len(chosen)))
    ax = fig.add_subplot()
    lo, hi = _x_range(chosen)
    span = hi - lo
    for y, s in enumerate(chosen):
        _draw_slice(ax, y, s, lo, span)
    ax.set_yticks(range(len(chosen)), labels=[_plain(s.group) for s in chosen])
    ax.set_ylim(len(chosen) - 0.5, -0.5)  # first group on top
    ax.set_xlim(lo, hi + 0.45 * span)  # room for the value labels
    ax.set_xlabel(_plain(metric))
    ax.set_ylabel(_plain(field))
    ax.set_title(_plain(title))
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def plot_slices(
    slices: Sequence[SliceResult], metric: str, field: str, path: Path, title: str
) -> Path:
    """Write one metric per group of one metadata field as horizontal bars, as a PNG.

    Bootstrap CIs are error bars where present; every bar is labelled with its value and n
    (measured queries). A group where nothing was measured is an empty dotted outline labelled
    "unmeasured". Groups keep the order of ``slices``; ValueError when none match.

    Example:
        >>> slices = [SliceResult("mrr", "lang", "en", Aggregate("mrr", 0.8, 40, 0, 0.7, 0.9)),
        ...           SliceResult("mrr", "lang", "de", Aggregate("mrr", None, 0, 3))]
        >>> plot_slices(slices, "mrr", "lang", tmp / "mrr_by_lang.png", title="MRR by lang").name
        'mrr_by_lang.png'
    """
    chosen = [s for s in slices if s.metric == metric and s.field == field]
    if not chosen:
        have = sorted({f"{s.metric}/{s.field}" for s in slices})
        raise ValueError(
            f"no slices for metric {metric!r} by field {field!r}; "
            f"this report has {', '.join(have) or 'no slices'}"
        )
    return _save(_slices_figure(chosen, metric, field, title), path)
