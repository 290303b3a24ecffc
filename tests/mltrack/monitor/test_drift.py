"""Drift statistics against hand-computed values and scipy; severity rules on real shifts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from ragline.mltrack.errors import DataError
from ragline.mltrack.monitor.drift import (
    EPSILON,
    chi_square,
    js_divergence,
    kl_divergence,
    ks,
    numeric_drift,
    psi,
)
from ragline.mltrack.monitor.drift_report import DriftThresholds, drift_report

pytestmark = pytest.mark.unit

REF = np.arange(1.0, 11.0)  # 1..10
CUR = np.array([1.0, 2.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0])


def test_psi_by_hand() -> None:
    # bins=2: the reference median, (n-1) * 0.5 = 4.5 -> 5 + 0.5 * (6 - 5) = 5.5
    # reference: 5 values <= 5.5, 5 above -> shares 0.5, 0.5
    # current: 1, 2 <= 5.5; 8 above -> shares 0.2, 0.8
    # PSI = (0.2 - 0.5) ln(0.2 / 0.5) + (0.8 - 0.5) ln(0.8 / 0.5)
    #     = 0.3 * 0.916291 + 0.3 * 0.470004 = 0.274887 + 0.141001 = 0.415888
    assert psi(REF, CUR, bins=2)[0] == pytest.approx(0.415888, abs=1e-6)
    assert psi(REF, REF, bins=2)[0] == 0.0


def test_psi_empty_bin_takes_epsilon() -> None:
    # reference 1..4, bins=2: edge 1.5 * 1 + 2 -> 2.5; shares 0.5, 0.5
    # current 10..13: shares 0, 1 -> 0 becomes EPSILON = 1e-4
    # PSI = (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5)
    #     = (-0.4999)(-8.517193) + 0.5 * 0.693147 = 4.257745 + 0.346574 = 4.604319
    assert EPSILON == 1e-4
    value = psi([1.0, 2.0, 3.0, 4.0], [10.0, 11.0, 12.0, 13.0], bins=2)[0]
    assert value == pytest.approx(4.604319, abs=1e-6)


def test_psi_outer_bins_are_open() -> None:
    # deciles of 0..999; a current sample far outside lands in the outer bins, not dropped
    ref = np.arange(1000.0)
    below = psi(ref, np.full(500, -1e9))[0]
    # 9 bins empty on the current side, 1 bin with share 1:
    # 9 * (1e-4 - 0.1) ln(1e-4 / 0.1) + (1 - 0.1) ln(1 / 0.1)
    expected = 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + 0.9 * math.log(10)
    assert below == pytest.approx(expected, rel=1e-9)


def test_js_by_hand() -> None:
    # same bins as test_psi_by_hand: p = (0.5, 0.5), q = (0.2, 0.8), m = (0.35, 0.65)
    # KL(p||m) = 0.5 log2(0.5/0.35) + 0.5 log2(0.5/0.65) = 0.257287 - 0.189256 = 0.068031
    # KL(q||m) = 0.2 log2(0.2/0.35) + 0.8 log2(0.8/0.65) = -0.161471 + 0.239648 = 0.078177
    # JS = (0.068031 + 0.078177) / 2 = 0.073104
    assert js_divergence(REF, CUR, bins=2)[0] == pytest.approx(0.073104, abs=1e-6)
    # all of the current above the edge 2.5: p = (0.5, 0.5), q = (0, 1), m = (0.25, 0.75)
    # KL(p||m) = 0.5 log2(2) + 0.5 log2(2/3) = 0.5 - 0.292481 = 0.207519; KL(q||m) = log2(4/3)
    # = 0.415037 (0 log 0 = 0: no epsilon); JS = (0.207519 + 0.415037) / 2 = 0.311278
    value = js_divergence([1.0, 2.0, 3.0, 4.0], [9.0, 9.0], bins=2)[0]
    assert value == pytest.approx(0.311278, abs=1e-6)


def test_ks_by_hand_and_ties() -> None:
    # F_ref - F_cur at 2: 0.5 - 0 = 0.5; at 3: 0.75 - 0.25; at 4: 1 - 0.5; at 5: 1 - 0.75
    result = ks([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    assert result.statistic[0] == pytest.approx(0.5)
    # ties across samples: ref (1, 1, 2, 2), cur (1, 2, 2, 2): F at 1 is 0.5 vs 0.25 -> 0.25
    assert ks([1.0, 1.0, 2.0, 2.0], [1.0, 2.0, 2.0, 2.0]).statistic[0] == pytest.approx(0.25)


def test_ks_matches_scipy_per_column() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(3000, 4))
    cur = rng.normal(size=(2500, 4))
    cur[:, 1] += 0.3
    cur[:, 2] = np.round(cur[:, 2], 1)  # many ties
    ref[:, 2] = np.round(ref[:, 2], 1)
    cur[:100, 3] = np.nan
    result = ks(ref, cur)
    for j in range(4):
        column = cur[:, j][~np.isnan(cur[:, j])]
        expected = stats.ks_2samp(ref[:, j], column, method="asymp")
        assert result.statistic[j] == pytest.approx(expected.statistic, abs=1e-12)
        assert result.pvalue[j] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_kl_by_hand_and_smoothing() -> None:
    # KL((.5, .5) || (.25, .75)) = 0.5 ln 2 + 0.5 ln(2/3) = 0.346574 - 0.202733 = 0.143841
    assert float(kl_divergence([0.5, 0.5], [0.25, 0.75], smoothing=0.0)) == pytest.approx(
        0.143841, abs=1e-6
    )
    # counts are normalised: (2, 2) vs (1, 3) is the same pair
    assert float(kl_divergence([2, 2], [1, 3], smoothing=0.0)) == pytest.approx(0.143841, abs=1e-6)
    # an empty class stays finite with smoothing: p = (1, 0) -> ((1 + a) / (1 + 2a), a / (1 + 2a))
    a = 1e-3
    p = np.array([1 + a, a]) / (1 + 2 * a)
    q = np.array([a, 1 + a]) / (1 + 2 * a)
    expected = float(np.sum(p * np.log(p / q)))
    assert float(kl_divergence([1, 0], [0, 1], smoothing=a)) == pytest.approx(expected)
    # batched along the last axis: one value per row
    assert kl_divergence([[1, 1], [1, 3]], [[1, 1], [1, 3]]).tolist() == [0.0, 0.0]


def test_chi_square_by_hand() -> None:
    # counts a/b: reference 30/20, current 20/30; N = 100; every expected cell 50 * 50 / 100 = 25
    # chi2 = 4 * (5^2 / 25) = 4, dof 1, p = P(chi2_1 > 4) = 0.0455, V = sqrt(4 / 100) = 0.2
    result = chi_square(["a"] * 30 + ["b"] * 20, ["a"] * 20 + ["b"] * 30)
    assert result.statistic == pytest.approx(4.0)
    assert result.dof == 1
    assert result.pvalue == pytest.approx(0.0455003, abs=1e-6)
    assert result.cramers_v == pytest.approx(0.2)
    # PSI over shares: 2 * 0.2 * ln(0.6 / 0.4) = 0.4 * 0.405465 = 0.162186
    assert result.psi == pytest.approx(0.162186, abs=1e-6)
    # a category only in the current table is aligned with a zero reference count
    assert chi_square(["a", "b"], ["a", "c"]).categories == ("a", "b", "c")


def _frames(shift: float, rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=rows), "y": rng.exponential(size=rows)})
    rng2 = np.random.default_rng(seed + 1)
    cur = pd.DataFrame({"x": rng2.normal(shift, size=rows), "y": rng2.exponential(size=rows)})
    return ref, cur


def test_shifted_normal_is_critical() -> None:
    ref, cur = _frames(shift=1.0, rows=5000, seed=0)
    report = drift_report(ref, cur)
    x, y = report.features
    assert (x.name, x.kind, x.severity) == ("x", "numeric", "critical")
    assert x.psi is not None and x.psi > 0.25
    assert y.severity == "ok"
    assert report.severity == "critical"


def test_same_distribution_stays_green() -> None:
    ref, cur = _frames(shift=0.0, rows=5000, seed=3)
    report = drift_report(ref, cur)
    assert report.severity == "ok", report
    assert all(f.severity == "ok" for f in report.features)


def test_small_samples_are_insufficient_not_alarms() -> None:
    ref, cur = _frames(shift=3.0, rows=50, seed=0)
    report = drift_report(ref, cur)
    assert [f.severity for f in report.features] == ["insufficient_data"] * 2
    assert report.severity == "insufficient_data"
    assert "need 100" in report.features[0].reason


def test_large_psi_without_significant_ks_stays_ok() -> None:
    # 100 rows a side, same distribution: PSI's noise alone can pass 0.1; KS says it is noise
    ref, cur = _frames(shift=0.0, rows=100, seed=7)
    strict = DriftThresholds(psi_warning=0.01, psi_critical=0.02)
    report = drift_report(ref, cur, strict)
    assert all(f.severity == "ok" for f in report.features)
    assert any("sampling noise" in f.reason for f in report.features)


def test_categorical_shift_caught_and_trivial_shift_ignored() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"plan": rng.choice(["free", "pro", "team"], 4000, p=[0.6, 0.3, 0.1])})
    cur = pd.DataFrame({"plan": rng.choice(["free", "pro", "team"], 4000, p=[0.3, 0.3, 0.4])})
    feature = drift_report(ref, cur).features[0]
    assert (feature.kind, feature.severity) == ("categorical", "critical")
    assert feature.chi2_pvalue is not None and feature.chi2_pvalue < 1e-10
    # 2M rows, 50.0% vs 50.5%: chi-square is significant, the effect is not
    big_ref = pd.DataFrame({"c": np.repeat(["a", "b"], [1_000_000, 1_000_000])})
    big_cur = pd.DataFrame({"c": np.repeat(["a", "b"], [1_010_000, 990_000])})
    trivial = drift_report(big_ref, big_cur, DriftThresholds(psi_warning=1e-5)).features[0]
    assert trivial.chi2_pvalue is not None and trivial.chi2_pvalue < 0.01
    assert trivial.severity == "ok" and "V <" in trivial.reason


def test_nans_are_excluded_and_reported() -> None:
    ref, cur = _frames(shift=0.0, rows=1000, seed=5)
    cur.loc[:249, "x"] = np.nan
    clean = drift_report(ref, cur.dropna(), columns=["x"]).features[0]
    feature = drift_report(ref, cur, columns=["x"]).features[0]
    assert (feature.n_cur, feature.missing_cur, feature.missing_ref) == (750, 0.25, 0.0)
    assert feature.psi == clean.psi and feature.ks == clean.ks
    assert numeric_drift([1.0, np.nan], [np.nan, np.nan]).n_cur.tolist() == [0]


def test_constant_columns() -> None:
    ref = pd.DataFrame({"k": np.ones(500)})
    same = drift_report(ref, pd.DataFrame({"k": np.ones(500)})).features[0]
    assert (same.severity, same.psi, same.ks) == ("ok", 0.0, 0.0)
    assert "constant in the reference" in same.reason
    moved = drift_report(ref, pd.DataFrame({"k": np.full(500, 2.0)})).features[0]
    assert moved.severity == "critical"


def test_missing_columns_are_named() -> None:
    ref = pd.DataFrame({"a": [1.0], "b": [2.0]})
    cur = pd.DataFrame({"a": [1.0], "c": [3.0]})
    with pytest.raises(DataError, match=r"reference: \['c'\].*current: \['b'\]"):
        drift_report(ref, cur)
    assert drift_report(ref, cur, columns=["a"]).features[0].name == "a"


def test_many_warnings_make_the_set_critical() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({f"f{i}": rng.normal(size=5000) for i in range(4)})
    cur = pd.DataFrame({f"f{i}": rng.normal(0.4, size=5000) for i in range(4)})
    ref["steady"], cur["steady"] = rng.normal(size=5000), rng.normal(size=5000)
    report = drift_report(ref, cur)
    assert [f.severity for f in report.features] == ["warning"] * 4 + ["ok"]
    assert report.severity == "critical" and "dataset shift" in report.reason
    lenient = drift_report(ref, cur, DriftThresholds(drifted_share_critical=1.0))
    assert lenient.severity == "warning"
    few = drift_report(ref, cur, DriftThresholds(drifted_count_critical=5))
    assert few.severity == "warning"


def test_thresholds_validate() -> None:
    assert DriftThresholds().psi_critical == 0.25
    with pytest.raises(ValidationError, match="swap"):
        DriftThresholds(psi_warning=0.3, psi_critical=0.2)
    with pytest.raises(ValidationError):
        DriftThresholds(unknown=1)  # type: ignore[call-arg]
