"""The labels signal of a rollout: the primary metric of canary and production on their
labelled predictions (`ragline monitor labels FILE` joins true labels to the prediction log).

    metric = label_metric(prediction_log, state)     # MetricSignals, or None without labels
    judge(canary, production, metric, policy)        # rolls back on a drop > max_metric_drop

The newest `LIMIT` labelled predictions of each version count, whenever they were served
(labels arrive hours or days later, long after a signal window closed). The metric is ROC-AUC
for a classifier (the positive class is the label predicted at a score >= 0.5, as
`ragline.mltrack.monitor.model_drift` reads it) and RMSE for a regressor. The server looks this
up when it refreshes a model (every few seconds), not per request.
"""

from __future__ import annotations

import sqlalchemy as sa

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.monitor.prediction_log import PredictionLog
from ragline.mltrack.rollout.policy import MetricSignals
from ragline.mltrack.rollout.state import RolloutState

LIMIT = 5000  # labelled predictions per version


def label_metric(log: PredictionLog, state: RolloutState) -> MetricSignals | None:
    """Both versions' metric on their newest labelled predictions; None when either has none
    or the metric is undefined (one class only).

    Example:
        >>> label_metric(log, rollouts.status("churn"))  # doctest: +SKIP
        MetricSignals(name='roc_auc', production=0.91, canary=0.84, n_production=812, ...)
    """
    from ragline.mltrack.tabular.evaluate import metric_value

    if state.production_version is None:
        return None
    found = {v: _labelled(log, state.name, v) for v in (state.version, state.production_version)}
    regression = any(task == "regression" for task, _, _ in found.values())
    name = "rmse" if regression else "roc_auc"
    values: dict[int, tuple[float, int]] = {}
    for version, (_, truth, scores) in found.items():
        value = metric_value(name, truth, scores) if truth else None
        if value is None:
            return None
        values[version] = (value, len(truth))
    (canary, n_canary), (production, n_prod) = (
        values[state.version],
        values[state.production_version],
    )
    return MetricSignals(
        name, production, canary, n_prod, n_canary, higher_is_better=not regression
    )


def _labelled(log: PredictionLog, name: str, version: int) -> tuple[str, list[float], list[float]]:
    """(task, truth as numbers, scores) of `version`'s newest labelled predictions."""
    p, t = log.table, log.labels
    join = p.join(t, sa.and_(p.c.request_id == t.c.request_id, p.c.row == t.c.row))
    query = (
        sa.select(p.c.task, p.c.score, p.c.label, t.c.label)
        .select_from(join)
        .where(p.c.model == name, p.c.version == version)
        .order_by(p.c.id.desc())
        .limit(LIMIT)
    )
    try:
        rows = log.rows(query)
    except (MltrackError, sa.exc.SQLAlchemyError):
        return "classification", [], []  # no labels table yet: no labels
    if not rows:
        return "classification", [], []
    task = str(rows[0][0])
    scores = [float(r[1]) for r in rows]
    if task == "regression":
        try:
            return task, [float(r[3]) for r in rows], scores
        except ValueError:  # a label that is no number: `monitor check` names it; no signal
            return task, [], []
    above = {str(r[2]) for r in rows if r[1] >= 0.5 and r[2] is not None}
    positive = min(above) if above else max(str(r[3]) for r in rows)
    return task, [1.0 if str(r[3]) == positive else 0.0 for r in rows], scores
