"""The prediction log: one row per row a served classical model scored, and the true labels
that arrive later, keyed by (request id, row). The input of prediction, label and concept drift.

    log = PredictionLog(PredictionLogConfig(), Path(".ragline"))  # sqlite:///.ragline/predictions.db
    log.record(PredictionRecord(time.time(), "r1", "churn", 3, "classification",
                                scores=(0.81, 0.07), labels=("1", "0")))
    log.add_labels([LabelRecord("r1", "1"), LabelRecord("r1", "0", row=1)])
    window = log.window("churn", since, until)   # scores, predicted and true labels, in time order
    log.close()

Predictions are buffered and written in batches (`ragline.mltrack.sql_batch`), so the predict
route does not wait for the database. Labels come in files (`ragline monitor labels FILE`), are
written at once, and replace an earlier label of the same (request id, row): a corrected
label wins. No feature values are stored: the scores and labels only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.monitor.config import PredictionLogConfig
from ragline.mltrack.sql_batch import BufferedTable, TableSpec

_CHUNK = 500  # (request id, row) pairs per DELETE of replaced labels


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class PredictionLogError(MltrackError):
    """The prediction log cannot be reached or written; the message names the URL to fix."""


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One predict request: its rows' scores and, for a classifier, predicted labels.

    PredictionRecord(1764158400.0, "r1", "churn", 3, "classification", (0.81,), ("1",))
    """

    ts: float
    request_id: str
    model: str
    version: int
    task: str
    scores: Sequence[float]
    labels: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """The true label of row `row` of request `request_id`.

    Example:
        >>> LabelRecord("r1", "1").row
        0
    """

    request_id: str
    label: str
    row: int = 0


@dataclass(frozen=True, slots=True)
class PredictionWindow:
    """One model's predictions of a time window, in time order; `truth` is None where no label
    has arrived, `predicted` None for a regressor."""

    model: str
    task: str
    ts: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    predicted: tuple[str | None, ...]
    truth: tuple[str | None, ...]

    @property
    def labelled(self) -> npt.NDArray[np.bool_]:
        return np.fromiter((t is not None for t in self.truth), bool, len(self.truth))


def _tables(config: PredictionLogConfig) -> tuple[sa.Table, sa.Table]:
    meta = sa.MetaData()
    predictions = sa.Table(
        config.table,
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Double, nullable=False, index=True),
        sa.Column("request_id", sa.String(128), nullable=False, index=True),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("model", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("label", sa.String(128)),
    )
    labels = sa.Table(
        config.labels_table,
        meta,
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("row", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(128), nullable=False),
    )
    return predictions, labels


class PredictionLog(BufferedTable):
    """Buffered prediction rows, label imports and windowed reads (module docstring).

    Example:
        >>> with PredictionLog(PredictionLogConfig(), data_dir) as log:  # doctest: +SKIP
        ...     log.record(record)
        ...     log.window("churn", since, until).score.size
        2
    """

    def __init__(self, config: PredictionLogConfig, data_dir: Path) -> None:
        predictions, self.labels = _tables(config)
        spec = TableSpec(
            config.resolved_url(data_dir),
            predictions,
            config.batch_size,
            config.flush_interval_s,
            "the prediction log",
            "monitor.prediction_log.url",
            data_dir / "spill",
        )
        super().__init__(spec, PredictionLogError)

    def record(self, record: PredictionRecord) -> None:
        """Buffer one row per scored row; written when the batch is full or old enough."""
        labels: Sequence[str | None] = record.labels or [None] * len(record.scores)
        for i, (score, label) in enumerate(zip(record.scores, labels, strict=True)):
            self.add(
                {
                    "ts": record.ts,
                    "request_id": record.request_id,
                    "row": i,
                    "model": record.model,
                    "version": record.version,
                    "task": record.task,
                    "score": float(score),
                    "label": label,
                }
            )

    def add_labels(self, records: Iterable[LabelRecord]) -> int:
        """Store true labels (replacing earlier ones for the same pair); how many were stored."""
        rows = {(r.request_id, r.row): r.label for r in records}
        keys = list(rows)
        t = self.labels
        self._ensure_labels()
        try:
            with self.engine.begin() as conn:
                for i in range(0, len(keys), _CHUNK):
                    chunk = keys[i : i + _CHUNK]
                    conn.execute(t.delete().where(sa.tuple_(t.c.request_id, t.c.row).in_(chunk)))
                if keys:
                    conn.execute(
                        t.insert(),
                        [{"request_id": k[0], "row": k[1], "label": rows[k]} for k in keys],
                    )
        except sa.exc.SQLAlchemyError as exc:
            raise PredictionLogError(
                f"storing labels in {t.name} failed: {exc}; check monitor.prediction_log.url"
            ) from exc
        return len(keys)

    def matched(self, records: Sequence[LabelRecord]) -> int:
        """How many of `records` name a logged prediction (the rest label nothing yet)."""
        p = self.table
        wanted = list({(r.request_id, r.row) for r in records})
        found = 0
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            query = sa.select(sa.func.count()).where(sa.tuple_(p.c.request_id, p.c.row).in_(chunk))
            found += int(self.rows(query)[0][0])
        return found

    def models(self, since: datetime, until: datetime) -> list[str]:
        """The models with predictions in `since <= ts < until`, by name."""
        p = self.table
        query = sa.select(p.c.model).where(p.c.ts >= _epoch(since), p.c.ts < _epoch(until))
        return [str(r[0]) for r in self.rows(query.distinct().order_by(p.c.model))]

    def window(self, model: str, since: datetime, until: datetime) -> PredictionWindow:
        """`model`'s predictions with `since <= ts < until` and any labels, in time order."""
        p, t = self.table, self.labels
        self._ensure_labels()
        join = p.outerjoin(t, sa.and_(p.c.request_id == t.c.request_id, p.c.row == t.c.row))
        query = (
            sa.select(p.c.ts, p.c.score, p.c.label, t.c.label, p.c.task)
            .select_from(join)
            .where(p.c.model == model, p.c.ts >= _epoch(since), p.c.ts < _epoch(until))
            .order_by(p.c.ts, p.c.id)
        )
        rows = self.rows(query)
        return PredictionWindow(
            model=model,
            task=str(rows[-1][4]) if rows else "classification",
            ts=np.fromiter((r[0] for r in rows), np.float64, len(rows)),
            score=np.fromiter((r[1] for r in rows), np.float64, len(rows)),
            predicted=tuple(r[2] for r in rows),
            truth=tuple(r[3] for r in rows),
        )

    def _ensure_labels(self) -> None:
        try:
            self.labels.create(self.engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:
            if sa.inspect(self.engine).has_table(self.labels.name):
                return  # another process or thread created it between the check and ours
            raise PredictionLogError(
                f"creating {self.labels.name} failed: {exc}; check monitor.prediction_log.url"
            ) from exc
