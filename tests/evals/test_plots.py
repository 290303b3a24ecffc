"""PNG report plots: valid, reproducible byte for byte, lazy, and honest about unmeasured values."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.image import imread

from ragline.evals import plots
from ragline.evals.metrics.classical import ReliabilityCurve
from ragline.evals.metrics.curves import interpolated_pr, top_hit_calibration
from ragline.evals.plots import (
    _pr_figure,
    _slices_figure,
    plot_calibration,
    plot_pr_curve,
    plot_slices,
)
from ragline.evals.report import SliceResult
from ragline.evals.result import Aggregate

pytestmark = pytest.mark.unit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PR = interpolated_pr(
    {"q1": ["a", "x", "b"], "q2": ["y", "c", "z", "d"]},
    {"q1": {"a": 1, "b": 1}, "q2": {"c": 1, "d": 2, "e": 1}},
)
# a curve with empty bins in the middle and a None ECE, as reliability_curve writes them
SPARSE = ReliabilityCurve(
    bin_edges=(0.0, 0.25, 0.5, 0.75, 1.0),
    mean_predicted=(0.1, None, None, 0.9),
    fraction_positive=(0.0, None, None, 1.0),
    counts=(3, 0, 0, 2),
)


def _slices() -> list[SliceResult]:
    return [
        SliceResult("mrr", "lang", "en", Aggregate("mrr", 0.8, 40, 0, 0.7, 0.9)),
        SliceResult("mrr", "lang", "fr", Aggregate("mrr", 0.55, 12, 2)),  # no CI
        SliceResult("mrr", "lang", "de", Aggregate("mrr", None, 0, 3)),  # unmeasured
        SliceResult("mrr", "source", "web", Aggregate("mrr", 0.6, 9, 0, 0.5, 0.7)),
        SliceResult("map", "lang", "en", Aggregate("map", 0.4, 40, 0, 0.3, 0.5)),
    ]


def _assert_png(path: Path, width: int, height: int | None = None) -> np.ndarray:
    assert path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.shape[1] == width
    if height is not None:
        assert image.shape[0] == height
    assert image.shape[2] in (3, 4)
    assert np.isfinite(image).all()
    assert (image[..., :3] < 0.5).any()  # something dark was drawn, not a blank canvas
    return image


def test_pr_curve_png(tmp_path: Path) -> None:
    out = plot_pr_curve(PR, tmp_path / "sub" / "pr.png", title="hybrid, 2 queries")
    assert out == tmp_path / "sub" / "pr.png"
    _assert_png(out, 640, 480)


def test_unmeasured_pr_curve_is_a_label_not_a_line_at_zero(tmp_path: Path) -> None:
    curve = interpolated_pr({"q": ["a"]}, {"q": {"a": 0}})
    fig = _pr_figure(curve, "nothing relevant")
    ax = fig.axes[0]
    assert not ax.lines
    assert [t.get_text() for t in ax.texts] == ["unmeasured: no query has a relevant document"]
    _assert_png(plot_pr_curve(curve, tmp_path / "none.png", title="none"), 640, 480)


def test_calibration_png_skips_empty_bins(tmp_path: Path) -> None:
    _assert_png(plot_calibration(SPARSE, None, tmp_path / "sparse.png", title="sparse"), 640, 480)
    scores, relevant = [0.1, 0.4, 0.35, 0.8, 0.95], [False, False, True, True, True]
    curve, error = top_hit_calibration(scores, relevant)
    _assert_png(plot_calibration(curve, error, tmp_path / "top.png", title="top hit"), 640, 480)
    empty = ReliabilityCurve((0.0, 0.5, 1.0), (None, None), (None, None), (0, 0))
    _assert_png(plot_calibration(empty, None, tmp_path / "empty.png", title="empty"), 640, 480)


def test_slices_png_with_an_unmeasured_group(tmp_path: Path) -> None:
    out = plot_slices(_slices(), "mrr", "lang", tmp_path / "mrr_lang.png", title="MRR by lang")
    _assert_png(out, 640)


def test_slice_figure_labels_bars_and_draws_ci_only_where_present() -> None:
    chosen = [s for s in _slices() if s.metric == "mrr" and s.field == "lang"]
    fig = _slices_figure(chosen, "mrr", "lang", "MRR by lang")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0.800 (n=40)", "0.550 (n=12, 2 unmeasured)", "unmeasured (n=0, 3 unmeasured)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["en", "fr", "de"]
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 1  # only "en" has a CI
    left, right = ax.get_xlim()
    assert np.isfinite([left, right]).all() and left == 0.0 and right > 0.9


def test_all_groups_unmeasured_still_draws(tmp_path: Path) -> None:
    only = [SliceResult("judge", "topic", "a", Aggregate("judge", None, 0, 5))]
    _assert_png(plot_slices(only, "judge", "topic", tmp_path / "none.png", title="judge"), 640)


def test_dollar_signs_are_shown_not_parsed_as_math(tmp_path: Path) -> None:
    odd = [SliceResult("cost $", "plan", "$5 $tier", Aggregate("cost $", 0.2, 3, 0))]
    chosen = _slices_figure(odd, "cost $", "plan", "price in $")
    assert [t.get_text() for t in chosen.axes[0].get_yticklabels()] == [r"\$5 \$tier"]
    _assert_png(plot_slices(odd, "cost $", "plan", tmp_path / "d.png", title="price in $"), 640)


def test_no_matching_slices_names_what_there_is(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"metric 'ndcg@10' by field 'lang'.*map/lang, mrr/lang"):
        plot_slices(_slices(), "ndcg@10", "lang", tmp_path / "x.png", title="x")
    assert not (tmp_path / "x.png").exists()


def test_same_data_gives_identical_bytes_and_other_data_does_not(tmp_path: Path) -> None:
    def write_all(folder: Path) -> list[bytes]:
        paths = [
            plot_pr_curve(PR, folder / "pr.png", title="pr"),
            plot_calibration(SPARSE, 0.1, folder / "cal.png", title="cal"),
            plot_slices(_slices(), "mrr", "lang", folder / "slices.png", title="slices"),
        ]
        return [p.read_bytes() for p in paths]

    first, second = write_all(tmp_path / "a"), write_all(tmp_path / "b")
    assert first == second
    assert b"Software" not in first[0]  # no matplotlib version stamp
    other = plot_calibration(SPARSE, 0.2, tmp_path / "other.png", title="cal")
    assert other.read_bytes() != first[1]  # the ECE is in the picture


def test_import_is_lazy_and_plotting_avoids_pyplot(tmp_path: Path) -> None:
    script = f"""
import sys
from pathlib import Path
import ragline.evals.plots
assert "matplotlib" not in sys.modules, "import ragline.evals.plots loaded matplotlib"
from ragline.evals.metrics.curves import PrCurve
curve = PrCurve(recall=(0.0, 1.0), precision=(1.0, 0.5), queries=1)
ragline.evals.plots.plot_pr_curve(curve, Path({str(tmp_path / "p.png")!r}), title="t")
assert "matplotlib" in sys.modules
assert "matplotlib.pyplot" not in sys.modules, "plotting went through pyplot"
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.png").is_file()


def test_docstring_examples_hold(tmp_path: Path) -> None:
    names = {
        "tmp": tmp_path,
        "interpolated_pr": interpolated_pr,
        "top_hit_calibration": top_hit_calibration,
        "SliceResult": SliceResult,
        "Aggregate": Aggregate,
    }
    failed, attempted = doctest.testmod(plots, extraglobs=names, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0
    assert (tmp_path / "mrr_by_lang.png").is_file()
