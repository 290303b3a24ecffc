"""Which features are the target's own past: lags and rolling statistics of the target.

    exempt = own_past_features("co2", config.features.temporal)  # {"co2__lag1", ...}

In a forecast the target's own lags are the strongest features there are (weekly CO2 against
last week's: R² 0.999), so the leakage check's "one feature alone predicts the target" rule would
stop every forecasting run. These columns cannot leak by construction:
`ragline.mltrack.tabular.temporal` computes them from earlier rows of the entity only (lags are
at least 1, rolling windows end at the previous row), and its tests pin that down. The leakage
check leaves exactly these names out of the target-derived test; a raw column of the table that
merely looks like one is still checked, and so is every other feature.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragline.mltrack.tabular.config import TemporalFeature


def own_past_features(target: str, specs: Sequence[TemporalFeature]) -> frozenset[str]:
    """The names `add_temporal_features` gives the lags and rolling stats of ``target``.

    Example:
        >>> from ragline.mltrack.tabular.config import Rolling
        >>> spec = TemporalFeature(column="y", lags=[1, 52], rolling=[Rolling(window=4)])
        >>> sorted(own_past_features("y", [spec]))
        ['y__lag1', 'y__lag52', 'y__roll4_mean']
    """
    names: set[str] = set()
    for spec in specs:
        if spec.column != target:
            continue
        names.update(f"{target}__lag{lag}" for lag in spec.lags)
        for roll in spec.rolling:
            names.update(f"{target}__roll{roll.window}_{stat}" for stat in roll.stats)
    return frozenset(names)
