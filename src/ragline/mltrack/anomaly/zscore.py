"""The anomaly baseline: how far a row sits from the train median, in robust z-scores.

    base = fit_zscore(x_train)             # medians and MADs of the train rows' features
    scores = base.predict(x_test)          # in [0, 1): higher = further from typical

For each feature, z = |x - median| / (1.4826 · MAD) (the MAD scaled to match a normal's
standard deviation; a feature whose MAD is 0 uses its standard deviation, and one constant in
train is skipped); a row's distance is the mean z over its features (a missing value counts 0),
scored as d / (1 + d) so the score lies in [0, 1) like the model's. No labels are read: it is
the rule a careful analyst writes before any model, and the model must rank anomalies better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ragline.mltrack.errors import DataError

FloatArray = npt.NDArray[np.float64]
MAD_TO_SD = 1.4826  # MAD x this estimates a normal's standard deviation


@dataclass(frozen=True, slots=True)
class ZScoreBaseline:
    """Fitted medians and scales per feature; see the module docstring.

    Example:
        >>> base = fit_zscore(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0]}))
        >>> base.predict(pd.DataFrame({"x": [3.0, 9.0]})).round(3).tolist()
        [0.0, 0.802]
    """

    columns: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    kind: str = "zscore"

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        """One score in [0, 1) per row of ``frame`` (the fitted feature columns)."""
        x = frame[list(self.columns)].to_numpy(dtype=np.float64, na_value=np.nan)
        z = np.abs(x - np.asarray(self.center)) / np.asarray(self.scale)
        distance = np.nan_to_num(z, nan=0.0).mean(axis=1)
        return np.asarray(distance / (1.0 + distance), dtype=np.float64)


def fit_zscore(x_train: pd.DataFrame) -> ZScoreBaseline:
    """Medians and robust scales of the numeric features of the train rows."""
    kept, centers, scales = [], [], []
    for column in x_train.columns:
        values = x_train[column].to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[~np.isnan(values)]
        if values.size == 0:
            continue
        median = float(np.median(values))
        scale = MAD_TO_SD * float(np.median(np.abs(values - median))) or float(values.std())
        if scale > 0:
            kept.append(str(column))
            centers.append(median)
            scales.append(scale)
    if not kept:
        raise DataError(
            "the zscore baseline found no feature that varies in the train rows; "
            "list numeric features in features.numeric"
        )
    return ZScoreBaseline(tuple(kept), tuple(centers), tuple(scales))
