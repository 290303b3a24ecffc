"""A real event stream shipped in a pip package: the Grunfeld investment panel (statsmodels).

    events = grunfeld_events()      # 220 rows: firm, ts, invest, value, capital
    labels = grunfeld_labels()      # one label row per firm and year, between year ends

Grunfeld (1958): gross investment, firm value and capital stock of 11 US firms, yearly from 1935
to 1954, as shipped in `statsmodels.datasets.grunfeld` (read straight from its CSV; statsmodels
itself is not imported). Each yearly figure becomes an event dated 31 December of its year, the
time it could first be known.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from ragline.mltrack.errors import DataError

GRUNFELD_COLUMNS = ("firm", "ts", "invest", "value", "capital")


def _grunfeld_csv() -> Path:
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the Grunfeld panel ships with statsmodels, which is not installed: run "
            "`pip install 'ragline[ml]'` (or `pip install statsmodels`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/grunfeld/grunfeld.csv"
    if not path.is_file():
        raise DataError(f"statsmodels has no {path}; reinstall it (`pip install statsmodels`)")
    return path


def grunfeld_events() -> pd.DataFrame:
    """The panel as events: one row per firm and year, `ts` the year's last day.

    Example:
        >>> events = grunfeld_events()
        >>> len(events), events["firm"].nunique(), str(events["ts"].min().date())
        (220, 11, '1935-12-31')
    """
    raw = pd.read_csv(_grunfeld_csv())
    years = raw["year"].astype(int).astype(str)
    events = pd.DataFrame(
        {
            "firm": raw["firm"].astype(str),
            "ts": pd.to_datetime(years + "-12-31").astype("datetime64[ns]"),
            "invest": raw["invest"].astype("float64"),
            "value": raw["value"].astype("float64"),
            "capital": raw["capital"].astype("float64"),
        }
    )
    return events.sort_values(["ts", "firm"], kind="stable").reset_index(drop=True)


def grunfeld_labels() -> pd.DataFrame:
    """Label rows `firm, label_ts, invest_year`: at 30 June of each year from 1935 to 1955, and
    on 31 December of every fifth year (a label at the very time of an event), the target
    being the firm's investment of the year in progress. June 1935 precedes every event."""
    events = grunfeld_events()
    target = events.assign(year=events["ts"].dt.year).set_index(["firm", "year"])["invest"]
    rows = []
    for firm in sorted(events["firm"].unique()):
        for year in range(1935, 1956):
            rows.append((firm, pd.Timestamp(year, 6, 30), target.get((firm, year))))
            if year % 5 == 0:
                rows.append((firm, pd.Timestamp(year, 12, 31), target.get((firm, year + 1))))
    labels = pd.DataFrame(rows, columns=["firm", "label_ts", "invest_year"])
    labels["label_ts"] = labels["label_ts"].astype("datetime64[ns]")
    return labels
