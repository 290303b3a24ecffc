"""Experiments on MLflow: each training or eval run is a record with an id, hypothesis, verdict.

    tracker = Tracker(MltrackConfig(), Path(".ragline"))
    plan = ExperimentPlan("deeper trees help", dataset_version(Path("adult.csv")), "lightgbm",
                          features=("age", "hours"), params={"num_leaves": 63})
    with tracker.start_run(plan) as run:          # run.exp_id == "EXP-2026-11-26-001"
        for trial in range(200):
            run.log_trial(trial, {"lr": 0.1}, {"val_auc": 0.9})   # buffered, step = trial
        run.finish("promoted", MetricValue("auc", 0.91, 0.90, 0.92), {"logloss": 0.3})
    tracker.get("EXP-2026-11-26-001").outcome.verdict        # 'promoted'

Run layout: one MLflow run per experiment. Tuning trials stay inside it as step-indexed metrics
(``trial.<name>`` at step = trial number) plus a ``trials.jsonl`` artifact with each trial's
parameters, written once at the end. Nested runs (``start_run(plan, parent=run)``, id
``<parent id>.<k>``) are for coarse children such as CV folds: a child run per trial would cost
a run row, a batch and a status update per trial, which is where MLflow's overhead lives.

Batching: params, metrics and tags are buffered and written with ``MlflowClient.log_batch`` (at
most 1000 entities a call) every ``flush_every`` entities and when the run ends. Nothing uses
MLflow's fluent (global) API; the experiment id is looked up once per tracker.

Storage: the record's fields are MLflow tags (``ragline.*``; the hypothesis is also the run's
description, the id its name, the actor ``mlflow.user``), hyperparameters are MLflow params, and
metric values (with ``<name>.ci_low``/``.ci_high``) are MLflow metrics, so ``mlflow ui`` shows
them; `Tracker.get` reads them back into an `ExperimentRecord`.

Ids: ``EXP-<UTC date>-NNN``, allocated through a primary-keyed table (``ragline_experiment_ids``)
in the tracking database (``<data_dir>/mltrack.db`` for an http tracking URI, whose runs are then
searched too): when a concurrent writer took the number, the insert fails and the next is tried.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import importlib
import json
import os
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import DataError, TrackingError
from ragline.mltrack.tracking.experiment_run import (
    NOTE,
    PARENT_RUN,
    RUN_NAME,
    USER,
    VERDICTS,
    ActiveRun,
    BaselineDelta,
    MetricValue,
    Outcome,
    P,
    ParamValue,
    Verdict,
    param_value,
    unspill,
)
from ragline.mltrack.tracking.mlflow_store import MlflowStore
from ragline.mltrack.tracking.run_facts import (
    FEATURES,
    NOTES,
    RAW_COLUMNS,
    ConfusionMatrix,
    DataRange,
    confusion_of,
    data_range_of,
)

if TYPE_CHECKING:
    from mlflow.entities import Run

__all__ = [
    "ActiveRun",
    "BaselineDelta",
    "ExperimentPlan",
    "ExperimentRecord",
    "MetricValue",
    "Outcome",
    "Tracker",
    "Verdict",
    "dataset_version",
]

_IDS = sa.MetaData()
EXPERIMENT_IDS = sa.Table(
    "ragline_experiment_ids",
    _IDS,
    sa.Column("exp_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("experiment", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
_ID_RE = re.compile(r"EXP-(\d{4}-\d{2}-\d{2})-(\d{3,})")
_ANY_ID_RE = re.compile(r"EXP-\d{4}-\d{2}-\d{2}-\d{3,}(\.\d+)*")
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID_ATTEMPTS = 50


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER/LOGNAME
        return "unknown"


@dataclass(frozen=True)
class ExperimentPlan:
    """What is known when a run starts: the hypothesis, the data, the model and its settings.
    ``features`` are the model's inputs and ``raw_columns`` the table columns they are made
    from; a tabular training run fills both once its feature pipeline is fitted
    (`ragline.mltrack.tracking.run_facts`). ``notes`` is free text (``experiment.notes``).

    Example:
        >>> ExperimentPlan("lower lr generalises", "sha256:0f1e2d3c4b5a6978", "lightgbm",
        ...                params={"learning_rate": 0.03}).model_type
        'lightgbm'
    """

    hypothesis: str
    dataset_version: str
    model_type: str
    features: tuple[str, ...] = ()
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    actor: str = field(default_factory=_default_actor)
    command: str = field(default_factory=lambda: shlex.join(sys.argv))
    notes: str = ""
    raw_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExperimentRecord:
    """One stored experiment: its plan, its outcome (None until `ActiveRun.finish`), run facts;
    ``confusion`` (classification, test split) and ``data_range`` (the training rows) are None
    when the run recorded none (`ragline.mltrack.tracking.run_facts`).

    Example:
        >>> rec = tracker.get("EXP-2026-11-26-001")  # doctest: +SKIP
        >>> rec.plan.hypothesis, rec.outcome.verdict, rec.wall_clock_s  # doctest: +SKIP
    """

    id: str
    run_id: str
    plan: ExperimentPlan
    outcome: Outcome | None
    wall_clock_s: float | None
    artifacts: tuple[str, ...]
    status: str
    started_at: datetime
    parent_id: str | None = None
    confusion: ConfusionMatrix | None = None
    data_range: DataRange | None = None


def dataset_version(data: Path | str | object) -> str:
    """A content hash of a file, a folder (every file, by relative path) or a pandas DataFrame.

    Example:
        >>> dataset_version(Path("data/adult.csv"))  # doctest: +SKIP
        'sha256:9c1e0f9b4b1e7a2d'
    """
    digest = hashlib.sha256()
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if path.is_file():
            _hash_file(digest, path)
        elif path.is_dir():
            for item in sorted(p for p in path.rglob("*") if p.is_file()):
                digest.update(item.relative_to(path).as_posix().encode() + b"\0")
                _hash_file(digest, item)
        else:
            raise DataError(f"cannot hash {path}: no such file or folder; pass the dataset's path")
    elif hasattr(data, "columns") and hasattr(data, "dtypes"):
        pd = importlib.import_module("pandas")  # lazily: pandas costs ~0.5 s to import
        digest.update(json.dumps([str(c) for c in data.columns]).encode())
        digest.update(json.dumps([str(d) for d in data.dtypes]).encode())
        digest.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
    else:
        raise DataError(f"cannot hash a {type(data).__name__}; pass a path or a pandas DataFrame")
    return "sha256:" + digest.hexdigest()[:16]


def _hash_file(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def _plan_tags(plan: ExperimentPlan, exp_id: str, parent: ActiveRun | None) -> dict[str, str]:
    tags = {
        P + "exp_id": exp_id,
        RUN_NAME: exp_id,
        P + "hypothesis": plan.hypothesis,
        NOTE: plan.hypothesis,
        P + "dataset_version": plan.dataset_version,
        P + "model_type": plan.model_type,
        FEATURES: json.dumps(list(plan.features)),
        RAW_COLUMNS: json.dumps(list(plan.raw_columns)),
        P + "command": plan.command,
    }
    if plan.notes:
        tags[NOTES] = plan.notes
    if parent is not None:
        tags[P + "parent_id"] = parent.exp_id
    return tags


def _verdict(text: str | None) -> Verdict | None:
    return next((v for v in VERDICTS if v == text), None)


def _outcome(tags: Mapping[str, str], metrics: Mapping[str, float]) -> Outcome | None:
    verdict, name = _verdict(tags.get(P + "verdict")), tags.get(P + "primary_metric")
    if verdict is None or name is None or name not in metrics:
        return None
    primary = MetricValue(
        name, metrics[name], metrics.get(f"{name}.ci_low"), metrics.get(f"{name}.ci_high")
    )
    names = json.loads(tags.get(P + "secondary_metrics", "[]"))
    secondary = {k: metrics[k] for k in names if k in metrics}
    baseline = None
    if P + "baseline_id" in tags and "baseline_delta" in metrics:
        baseline = BaselineDelta(
            tags[P + "baseline_id"],
            metrics["baseline_delta"],
            metrics.get("baseline_delta.ci_low"),
            metrics.get("baseline_delta.ci_high"),
        )
    return Outcome(verdict, primary, secondary, baseline)


def _record(run: Run) -> ExperimentRecord:
    tags, metrics = run.data.tags, run.data.metrics
    params = {k: param_value(v) for k, v in run.data.params.items()}
    plan = ExperimentPlan(
        hypothesis=unspill(tags, P + "hypothesis") or "",
        dataset_version=tags.get(P + "dataset_version", ""),
        model_type=tags.get(P + "model_type", ""),
        features=tuple(json.loads(unspill(tags, FEATURES) or "[]")),
        params=params,
        actor=tags.get(USER, "unknown"),
        command=unspill(tags, P + "command") or "",
        notes=unspill(tags, NOTES) or str(params.get("experiment.notes") or ""),
        raw_columns=tuple(json.loads(unspill(tags, RAW_COLUMNS) or "[]")),
    )
    return ExperimentRecord(
        id=tags.get(P + "exp_id", run.info.run_id),
        run_id=run.info.run_id,
        plan=plan,
        outcome=_outcome(tags, metrics),
        wall_clock_s=metrics.get("wall_clock_s"),
        artifacts=tuple(json.loads(tags.get(P + "artifacts", "[]"))),
        status=run.info.status,
        started_at=datetime.fromtimestamp(run.info.start_time / 1000, UTC),
        parent_id=tags.get(P + "parent_id"),
        confusion=confusion_of(tags),
        data_range=data_range_of(tags),
    )


class Tracker:
    """The experiments of one MLflow experiment (``config.experiment``): start, read, list.

    Example:
        >>> tracker = Tracker(MltrackConfig(), Path(".ragline"))   # opens nothing yet
        >>> with tracker.start_run(plan) as run:  # doctest: +SKIP
        ...     run.finish("archived", MetricValue("auc", 0.87))
        >>> [r.id for r in tracker.list(verdict="archived")]  # doctest: +SKIP
        ['EXP-2026-11-26-001']
    """

    def __init__(
        self, config: MltrackConfig, data_dir: Path, *, store: MlflowStore | None = None
    ) -> None:
        self.store = store or MlflowStore(config, data_dir)
        self.experiment = config.experiment
        self._experiment_id: str | None = None

    @property
    def experiment_id(self) -> str:
        """The MLflow experiment's id, created on first use (looked up once)."""
        if self._experiment_id is None:
            self._experiment_id = self._ensure_experiment()
        return self._experiment_id

    def _ensure_experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        client, name = self.store.client, self.experiment
        with self.store.errors(f"opening experiment {name!r}"):
            found = client.get_experiment_by_name(name)
            if found is None:
                try:
                    return client.create_experiment(
                        name, artifact_location=self.store.artifact_location(name)
                    )
                except MlflowException as exc:  # another process created it meanwhile
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    found = client.get_experiment_by_name(name)
        if found is None or found.lifecycle_stage != "active":
            raise TrackingError(
                f"experiment {name!r} is deleted in {self.store.uri}; restore it "
                "(mlflow experiments restore) or set the experiment name to a new one"
            )
        return str(found.experiment_id)

    @contextlib.contextmanager
    def start_run(
        self, plan: ExperimentPlan, *, parent: ActiveRun | None = None, flush_every: int = 1000
    ) -> Iterator[ActiveRun]:
        """Open a run for `plan` (a child of `parent` if given); it ends FINISHED, or FAILED
        when the block raises, after everything buffered is written."""
        tags = {USER: plan.actor} | ({PARENT_RUN: parent.run_id} if parent else {})
        with self.store.errors("starting a run"):
            run_id = self.store.client.create_run(self.experiment_id, tags=tags).info.run_id
        exp_id = parent.child_id() if parent else self._allocate_id(run_id)
        run = ActiveRun(self.store, run_id, exp_id, flush_every)
        run.set_tags(_plan_tags(plan, exp_id, parent))
        run.log_params(plan.params)
        run.flush()
        status = "FAILED"
        try:
            yield run
            status = "FINISHED"
        finally:
            run.end(status)

    def _allocate_id(self, run_id: str) -> str:
        engine, table = self.store.engine(_IDS), EXPERIMENT_IDS
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        with self.store.errors("allocating an experiment id"):
            with engine.connect() as conn:
                top = conn.execute(sa.select(sa.func.max(table.c.seq)).where(table.c.day == day))
                seq = max(top.scalar() or 0, self._max_seq_on_server(day)) + 1
            for _ in range(_ID_ATTEMPTS):
                exp_id = f"EXP-{day}-{seq:03d}"
                row = {"exp_id": exp_id, "day": day, "seq": seq, "run_id": run_id}
                row |= {"experiment": self.experiment, "created_at": datetime.now(UTC)}
                try:
                    with engine.begin() as conn:
                        conn.execute(table.insert().values(**row))
                    return exp_id
                except sa.exc.IntegrityError:  # a concurrent run took this number
                    seq += 1
        raise TrackingError(
            f"could not allocate an experiment id for {day} after {_ID_ATTEMPTS} tries; "
            "too many runs are starting at once: retry"
        )

    def _max_seq_on_server(self, day: str) -> int:
        """Today's highest number among the server's runs (only when ids live elsewhere)."""
        if self.store.shared_ledger:
            return 0
        runs = self.store.client.search_runs(
            [self.experiment_id], f"tags.`{P}exp_id` LIKE 'EXP-{day}-%'", max_results=1000
        )
        seqs = [_ID_RE.fullmatch(r.data.tags.get(P + "exp_id", "")) for r in runs]
        return max((int(m.group(2)) for m in seqs if m), default=0)

    def get(self, exp_id: str) -> ExperimentRecord:
        """The stored record of `exp_id` (``EXP-YYYY-MM-DD-NNN``, or ``...-NNN.k`` for a child)."""
        if not _ANY_ID_RE.fullmatch(exp_id):
            raise ValueError(f"{exp_id!r} is not an experiment id like EXP-2026-11-26-001")
        table = EXPERIMENT_IDS
        with self.store.errors(f"reading {exp_id}"):
            with self.store.engine(_IDS).connect() as conn:
                query = sa.select(table.c.run_id).where(table.c.exp_id == exp_id)
                run_id = conn.execute(query).scalar()
            if run_id is not None:
                return _record(self.store.client.get_run(run_id))
            runs = self.store.client.search_runs(
                [self.experiment_id], f"tags.`{P}exp_id` = '{exp_id}'", max_results=1
            )
        if not runs:
            raise TrackingError(
                f"no experiment {exp_id} in {self.experiment!r}; list ids with Tracker.list()"
            )
        return _record(runs[0])

    def for_run(self, run_id: str) -> tuple[ExperimentRecord, dict[str, str]]:
        """The record of MLflow run `run_id` (e.g. a registered version's) and all its tags."""
        with self.store.errors(f"reading run {run_id}"):
            run = self.store.client.get_run(run_id)
        return _record(run), dict(run.data.tags)

    def set_verdict(self, record: ExperimentRecord, verdict: Verdict) -> None:
        """Change a finished experiment's verdict (e.g. to ``promoted`` when it ships)."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        with self.store.errors(f"updating {record.id}"):
            self.store.client.set_tag(record.run_id, P + "verdict", verdict)

    def list(
        self,
        *,
        day: str | None = None,
        verdict: Verdict | None = None,
        children: bool = False,
        limit: int = 100,
    ) -> tuple[ExperimentRecord, ...]:
        """The newest `limit` runs' records, optionally of one UTC day (``YYYY-MM-DD``) or
        verdict; child runs only with ``children=True`` (they count towards `limit`)."""
        if day is not None and not _DAY_RE.fullmatch(day):
            raise ValueError(f"day must look like 2026-11-26, got {day!r}")
        if verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        query = f"tags.`{P}exp_id` LIKE 'EXP-{day or ''}%'"
        if verdict is not None:
            query += f" AND tags.`{P}verdict` = '{verdict}'"
        with self.store.errors("listing experiments"):
            runs = self.store.client.search_runs(
                [self.experiment_id],
                query,
                max_results=limit,
                order_by=["attributes.start_time DESC"],
            )
        records = (_record(r) for r in runs)
        return tuple(r for r in records if children or r.parent_id is None)

    def close(self) -> None:
        """Release mltrack's database connections."""
        self.store.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
