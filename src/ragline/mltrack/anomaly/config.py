"""The ``anomaly:`` section of a training config and the checks ``task: anomaly`` needs.

    spec = AnomalySpec(alert_budget="10 per 1000")
    spec.budget_share                      # 0.01: production flags at most 1% of rows

Kept apart from `ragline.mltrack.tabular.config` (which imports it) so the anomaly rules sit in
one place; nothing here imports the tabular package.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AnomalySpec(BaseModel):
    """Anomaly detection (``data.task: anomaly``): the alert budget sets the saved threshold.

    ``alert_budget`` is the share of rows production may flag: a fraction (``0.01``) or
    ``"N per 1000"``; the threshold is the (1 - share) quantile of the validation rows' scores.

    Example:
        >>> AnomalySpec(alert_budget="25 per 1000").budget_share
        0.025
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    alert_budget: float | str = Field(0.01, description="fraction, or 'N per 1000' rows")

    @property
    def budget_share(self) -> float:
        """The alert budget as a fraction of rows."""
        return _share(self.alert_budget)

    @model_validator(mode="after")
    def _budget(self) -> Self:
        if not 0 < _share(self.alert_budget) < 1:
            raise ValueError(
                f"alert_budget: {self.alert_budget!r} is not a share in (0, 1) or 'N per 1000' "
                "with 0 < N < 1000; write e.g. 0.01 or '10 per 1000'"
            )
        return self


def _share(budget: float | str) -> float:
    """The budget as a fraction; -1 when it cannot be read."""
    if not isinstance(budget, str):
        return float(budget)
    words = budget.split()
    if len(words) != 3 or words[1:] != ["per", "1000"]:
        return -1.0
    try:
        return float(words[0]) / 1000.0
    except ValueError:
        return -1.0


def anomaly_problems(
    task: str, baseline: str, model: str, trials: int, target_encoded: bool
) -> list[str]:
    """What a config's choices break for anomaly detection, each line naming the key to fix.

    Example:
        >>> anomaly_problems("anomaly", "mean", "isolation-forest", 0, False)
        ["baseline.kind: 'mean' does not rank anomalies; use zscore (or auto)"]
    """
    out: list[str] = []
    if baseline == "zscore" and task != "anomaly":
        out.append("baseline.kind: zscore scores anomalies; use it with data.task: anomaly")
    if (model == "isolation-forest") != (task == "anomaly"):
        out.append(
            "model.kind: task anomaly takes isolation-forest, and isolation-forest only "
            "task anomaly; change model.kind or data.task"
        )
    if task != "anomaly":
        return out
    if baseline in ("majority", "mean"):
        out.append(f"baseline.kind: {baseline!r} does not rank anomalies; use zscore (or auto)")
    if trials:
        out.append("tune.trials: anomaly models are not tuned yet; set it to 0")
    if target_encoded:
        out.append("features.categorical: target encoding reads the labels; use onehot")
    return out
