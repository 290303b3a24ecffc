"""A run being logged: `ActiveRun` buffers params, metrics and tags and writes them in batches.

    with tracker.start_run(plan) as run:            # ragline.mltrack.tracking.experiments.Tracker
        run.log_params({"num_leaves": 63})
        run.log_trial(7, {"lr": 0.05}, {"val_auc": 0.91})     # metric trial.val_auc at step 7
        run.finish("promoted", MetricValue("auc", 0.91, 0.90, 0.92), {"logloss": 0.31})

Nothing reaches MLflow until ``flush_every`` entities are buffered or the run ends; then
``MlflowClient.log_batch`` writes them, at most 1000 entities a call (MLflow's limit). Each
call is one database transaction, which is why batching matters: on SQLite one call costs
about as much as writing 100 buffered metrics.

How a record's fields become MLflow entities (`ragline.mltrack.tracking.experiments` reads them
back):

=====================  =====================================================================
tags                   ``ragline.exp_id``, ``ragline.hypothesis`` (also ``mlflow.note.content``,
                       the UI's description), ``ragline.dataset_version``, ``ragline.model_type``,
                       ``ragline.features`` and ``ragline.raw_columns`` (JSON),
                       ``ragline.notes``, ``ragline.command``, ``mlflow.user`` (actor),
                       ``ragline.verdict``, ``ragline.primary_metric``,
                       ``ragline.secondary_metrics``,
                       ``ragline.baseline_id``, ``ragline.artifacts``, ``ragline.parent_id``;
                       after tabular training also ``ragline.confusion`` and
                       ``ragline.data_range`` (JSON, `ragline.mltrack.tracking.run_facts`);
                       text past MLflow's 8000-character limit continues in ``<tag>.1``, ...
params                 the hyperparameters (numbers/booleans as JSON, strings as they are)
metrics                primary and secondary values, ``<name>.ci_low``/``.ci_high``,
                       ``baseline_delta`` (+ CI), ``wall_clock_s``, ``trial.<name>`` per step
artifacts              ``trials.jsonl`` (one line per `log_trial`) and whatever is logged
=====================  =====================================================================
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from ragline.mltrack.errors import TrackingError
from ragline.mltrack.tracking.mlflow_store import MlflowStore

if TYPE_CHECKING:
    from mlflow.entities import Metric, Param, RunTag

Verdict = Literal["promoted", "archived", "iterate"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
ParamValue = str | int | float | bool | None
P = "ragline."  # prefix of mltrack's tags
NOTE, USER = "mlflow.note.content", "mlflow.user"  # the UI's description and user columns
PARENT_RUN, RUN_NAME = "mlflow.parentRunId", "mlflow.runName"
_MAX_BATCH = 1000  # MLflow's limit on entities per log_batch call
_MAX_PARAMS_TAGS = 100
_MAX_TAG = 8000
_MAX_PARAM = 6000
_JSON_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A metric's value with its confidence interval (None when not computed).

    Example:
        >>> MetricValue("auc", 0.91, 0.9, 0.92).ci_high
        0.92
    """

    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True, slots=True)
class BaselineDelta:
    """Primary metric minus the baseline's (an experiment id or e.g. ``"churn@production"``).

    Example:
        >>> BaselineDelta("EXP-2026-11-20-004", 0.012, 0.004, 0.02).delta
        0.012
    """

    baseline_id: str
    delta: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Outcome:
    """How a run ended: the verdict and the metrics it rests on.

    Example:
        >>> Outcome("iterate", MetricValue("auc", 0.88)).verdict
        'iterate'
    """

    verdict: Verdict
    primary: MetricValue
    secondary: Mapping[str, float] = field(default_factory=dict)
    baseline: BaselineDelta | None = None


def param_text(key: str, value: object) -> str:
    """How a param value is stored: strings as they are, numbers/booleans/None as JSON."""
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, bool | int | float):
        text = json.dumps(value)
    else:
        text = str(value)
    if len(text) > _MAX_PARAM:
        raise TrackingError(
            f"param {key!r} is {len(text)} characters; MLflow keeps at most {_MAX_PARAM}: "
            "log it as an artifact (run.log_artifact) and put its path in the param"
        )
    return text


def param_value(text: str) -> ParamValue:
    """A stored param read back: numbers, booleans and null typed, anything else a string.

    Example:
        >>> [param_value(t) for t in ("63", "0.05", "true", "gbdt", "007")]
        [63, 0.05, True, 'gbdt', '007']
    """
    if text in ("true", "false", "null") or _JSON_NUMBER.fullmatch(text):
        value: ParamValue = json.loads(text)
        return value
    return text


def spill(key: str, text: str) -> dict[str, str]:
    """`text` under `key`, continued in `key`.1, `key`.2, ... past MLflow's tag length limit.

    Example:
        >>> sorted(spill("ragline.features", "x" * 9000))
        ['ragline.features', 'ragline.features.1']
    """
    parts = [text[i : i + _MAX_TAG] for i in range(0, len(text), _MAX_TAG)] or [""]
    return {key if i == 0 else f"{key}.{i}": part for i, part in enumerate(parts)}


def unspill(tags: Mapping[str, str], key: str) -> str | None:
    """The text `spill` stored under `key`, or None when the tag is absent."""
    if key not in tags:
        return None
    parts, i = [tags[key]], 1
    while f"{key}.{i}" in tags:
        parts.append(tags[f"{key}.{i}"])
        i += 1
    return "".join(parts)


class ActiveRun:
    """A run being logged (a `RunLogger`): everything is buffered and written in batches.

    Get one from `Tracker.start_run`; parameters are fixed per run (MLflow refuses to change
    them), so log per-trial settings with `log_trial` or step-indexed metrics.

    Example:
        >>> with tracker.start_run(plan) as run:  # doctest: +SKIP
        ...     run.log_metrics({"val_auc": 0.91}, step=3)
        ...     run.finish("iterate", MetricValue("auc", 0.91))
    """

    def __init__(self, store: MlflowStore, run_id: str, exp_id: str, flush_every: int) -> None:
        self.run_id, self.exp_id = run_id, exp_id
        self._store, self._flush_every = store, max(1, flush_every)
        self._params: dict[str, str] = {}
        self._pending: tuple[list[Metric], list[Param], list[RunTag]] = ([], [], [])
        self._last_step: dict[str, int] = {}
        self._artifacts: list[str] = []
        self._trials: list[dict[str, object]] = []
        self._children = 0
        self._outcome: Outcome | None = None
        self._started = time.monotonic()

    def log_params(self, params: Mapping[str, object]) -> None:
        """Buffer hyperparameters; a key logged before must keep its value."""
        from mlflow.entities import Param

        for key, value in params.items():
            text = param_text(key, value)
            old = self._params.get(key)
            if old is None:
                self._params[key] = text
                self._pending[1].append(Param(key, text))
            elif old != text:
                raise TrackingError(
                    f"param {key!r} was logged as {old!r}, now {text!r}: a run's params are "
                    "fixed; log per-trial values with log_trial or log_metrics(step=trial)"
                )
        self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Buffer metric values (step 0 when none is given)."""
        from mlflow.entities import Metric

        ts, step, last = int(time.time() * 1000), step or 0, self._last_step
        for key, value in metrics.items():
            self._pending[0].append(Metric(key, float(value), ts, step))
            if last.get(key, -1) < step:
                last[key] = step
        self._maybe_flush()

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Buffer tags (long values are spilled over numbered tags)."""
        from mlflow.entities import RunTag

        for key, value in tags.items():
            self._pending[2].extend(RunTag(k, v) for k, v in spill(key, str(value)).items())
        self._maybe_flush()

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Copy a file or folder into the run's artifacts as ``<folder>/<name>``, now (files
        are not buffered)."""
        target = f"{folder}/{path.name}" if folder else path.name
        with self._store.errors(f"logging artifact {path}"):
            if path.is_dir():
                self._store.client.log_artifacts(self.run_id, str(path), target)
            else:
                self._store.client.log_artifact(self.run_id, str(path), folder)
        self._artifacts.append(target)

    def log_trial(
        self, number: int, params: Mapping[str, ParamValue], metrics: Mapping[str, float]
    ) -> None:
        """Record a tuning trial: metrics as ``trial.<name>`` at step `number`, params in memory
        until the run ends (then ``trials.jsonl``)."""
        self.log_metrics({f"trial.{k}": v for k, v in metrics.items()}, step=number)
        self._trials.append({"number": number, "params": dict(params), "metrics": dict(metrics)})

    def finish(
        self,
        verdict: Verdict,
        primary: MetricValue,
        secondary: Mapping[str, float] | None = None,
        baseline: BaselineDelta | None = None,
    ) -> None:
        """Set the verdict and the metrics it rests on; written when the run ends."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        if secondary and primary.name in secondary:
            raise ValueError(f"{primary.name!r} is the primary metric; drop it from secondary")
        self._outcome = Outcome(verdict, primary, dict(secondary or {}), baseline)

    def child_id(self) -> str:
        """The next nested run's id: ``<this id>.<k>``."""
        self._children += 1
        return f"{self.exp_id}.{self._children}"

    def flush(self) -> None:
        """Write everything buffered, in as few `log_batch` calls as MLflow allows."""
        metrics, params, tags = self._pending
        while metrics or params or tags:
            p, t = params[:_MAX_PARAMS_TAGS], tags[:_MAX_PARAMS_TAGS]
            m = metrics[: _MAX_BATCH - len(p) - len(t)]
            with self._store.errors(f"logging to run {self.exp_id}"):
                self._store.client.log_batch(self.run_id, m, p, t, synchronous=True)
            del metrics[: len(m)], params[: len(p)], tags[: len(t)]

    def _maybe_flush(self) -> None:
        if sum(len(b) for b in self._pending) >= self._flush_every:
            self.flush()

    def end(self, status: str) -> None:
        """Write the outcome, wall-clock time, trials and everything buffered, then end the run
        with `status` (FINISHED or FAILED). `Tracker.start_run` calls it when its block exits."""
        if self._trials:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "trials.jsonl"
                path.write_text("".join(json.dumps(t) + "\n" for t in self._trials))
                self.log_artifact(path)
        tags, metrics = _outcome_fields(self._outcome)
        metrics["wall_clock_s"] = time.monotonic() - self._started
        tags[P + "artifacts"] = json.dumps(self._artifacts)
        self.set_tags(tags)
        # one step past any value logged under the same name, so MLflow's "latest value" (the
        # highest step) is the final one and not, say, the last training round's
        seen = {k: self._last_step[k] + 1 for k in metrics if k in self._last_step}
        self.log_metrics({k: v for k, v in metrics.items() if k not in seen})
        for key, step in seen.items():
            self.log_metrics({key: metrics[key]}, step=step)
        self.flush()
        with self._store.errors(f"ending run {self.exp_id}"):
            self._store.client.set_terminated(self.run_id, status)


def _outcome_fields(outcome: Outcome | None) -> tuple[dict[str, str], dict[str, float]]:
    if outcome is None:
        return {}, {}
    tags = {
        P + "verdict": outcome.verdict,
        P + "primary_metric": outcome.primary.name,
        P + "secondary_metrics": json.dumps(sorted(outcome.secondary)),
    }
    metrics = dict(outcome.secondary)
    for name, item in (
        (outcome.primary.name, outcome.primary),
        ("baseline_delta", outcome.baseline),
    ):
        if item is None:
            continue
        value = item.value if isinstance(item, MetricValue) else item.delta
        metrics[name] = value
        metrics.update({f"{name}.{k}": v for k, v in _ci(item).items()})
    if outcome.baseline is not None:
        tags[P + "baseline_id"] = outcome.baseline.baseline_id
    return tags, metrics


def _ci(item: MetricValue | BaselineDelta) -> dict[str, float]:
    return {k: v for k, v in (("ci_low", item.ci_low), ("ci_high", item.ci_high)) if v is not None}
