"""Alerts: rules over observed metrics fire actions (log, webhook, retrain, rollback), once per
cool-down.

    rules = [AlertRule(name="auc-low", metric="roc_auc", op="<", threshold=0.85,
                       severity="critical", cooldown_s=3600,
                       actions=[AlertAction(kind="webhook", url="https://hooks.example/ml"),
                                AlertAction(kind="retrain", model="adult-income")])]
    engine = AlertEngine(rules, MlflowStore(MltrackConfig(), Path(".ragline")),
                         on_retrain={"adult-income": start_retrain})
    fired = engine.evaluate([Observation("roc_auc", 0.81, key="adult-income")], now)

De-duplication: each (rule, key) has a row in ``ragline_alert_state`` (last fired, last value,
firings, and whether the metric is still in breach). A breach fires when the pair is not already
in breach, or when its last firing is at least `cooldown_s` old; otherwise it is suppressed.
The check-and-set is one conditional UPDATE (or the INSERT of a new row, keyed on the pair), so
engines in separate processes on the same database fire a breach once between them.
Recovery: an observation for which the rule no longer holds clears the in-breach flag, so the
next breach fires at once, whatever the cool-down (a flapping metric alerts on every flap).

Every firing appends one ``fire`` row and one row per action to ``ragline_alert_log``
(append-only). Actions never raise: a webhook's HTTP or network failure, a missing retrain or
rollback callback and a retrain's or rollback's `MltrackError` are recorded as failed outcomes
and logged. A ``rollback`` action calls `on_rollback(model, fired)` (the serving layer passes
the registry's `ModelRegistry.rollback`: production goes back to the version before it), e.g. on
``concept_drift >= 2`` (sustained) for a model. For a model in a gradual rollout
(`ragline.mltrack.rollout`), `canary_first` wraps that callback so the alert aborts the running
canary instead: production never changed, so there is nothing to roll back.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeAlias

import sqlalchemy as sa

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.monitor.config import AlertAction, AlertRule
from ragline.mltrack.tracking.mlflow_store import MlflowStore

if TYPE_CHECKING:  # retrain pulls in training (pandas, lightgbm); alerts stay light to import
    from ragline.mltrack.monitor.retrain import RetrainOutcome

log = logging.getLogger(__name__)

_META = sa.MetaData()
ALERT_STATE = sa.Table(
    "ragline_alert_state",
    _META,
    sa.Column("rule", sa.String(256), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("last_fired", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_value", sa.Float, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("breaching", sa.Boolean, nullable=False),
)
ALERT_LOG = sa.Table(
    "ragline_alert_log",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rule", sa.String(256), nullable=False, index=True),
    sa.Column("key", sa.String(256), nullable=False),
    sa.Column("metric", sa.String(256), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Observation:
    """One measured value: a metric, what it is about (a feature, a model) and when.

    Example:
        >>> Observation("psi", 0.31, key="age").key
        'age'
    """

    metric: str
    value: float
    key: str = ""
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """How one action of a firing went."""

    kind: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Fired:
    """One firing of a rule for a key, with its actions' outcomes.

    Example:
        >>> [(f.rule, f.key, f.count) for f in engine.evaluate(obs, now)]  # doctest: +SKIP
        [('psi-high', 'age', 1)]
    """

    rule: str
    key: str
    metric: str
    value: float
    op: str
    threshold: float
    severity: str
    ts: datetime
    count: int
    outcomes: tuple[ActionOutcome, ...] = ()

    def payload(self) -> dict[str, object]:
        """The JSON a webhook receives."""
        body = dataclasses.asdict(self)
        del body["outcomes"]
        return body | {"ts": self.ts.isoformat()}


@dataclass(frozen=True, slots=True)
class AlertLogEntry:
    """One row of ``ragline_alert_log``: a firing (``action="fire"``) or one action's outcome."""

    id: int
    ts: datetime
    rule: str
    key: str
    metric: str
    value: float
    severity: str
    action: str
    ok: bool
    detail: str


RetrainCallback: TypeAlias = "Callable[[str, Fired], RetrainOutcome]"
RollbackCallback: TypeAlias = Callable[[str, Fired], str]  # model, firing -> what it did


def canary_first(
    abort: Callable[[str, str], str | None], fallback: RollbackCallback
) -> RollbackCallback:
    """An `on_rollback` that first calls `abort(model, reason)`, which stops the model's running
    canary and says what it did (None: no canary runs), and otherwise `fallback`.

    Example:
        >>> act = canary_first(lambda m, why: None, lambda m, f: f"{m}: production is v3 again")
        >>> AlertEngine(rules, store, on_rollback=act)  # doctest: +SKIP
    """

    def act(model: str, fired: Fired) -> str:
        done = abort(model, f"alert {fired.rule}: {fired.metric}={fired.value:g}")
        return done if done is not None else fallback(model, fired)

    return act


class AlertEngine:
    """Evaluates rules against observations; state and log live in mltrack's tables.

    Example:
        >>> engine = AlertEngine([AlertRule(name="auc-low", metric="auc", op="<",
        ...                                 threshold=0.85)], store)  # doctest: +SKIP
        >>> len(engine.evaluate([Observation("auc", 0.8, "churn")], now))  # doctest: +SKIP
        1
    """

    def __init__(
        self,
        rules: Sequence[AlertRule],
        store: MlflowStore,
        *,
        on_retrain: Mapping[str, RetrainCallback] | None = None,
        on_rollback: RollbackCallback | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique, got {names}; rename the duplicates")
        self.rules = tuple(rules)
        self.store = store
        self.on_retrain = dict(on_retrain or {})
        self.on_rollback = on_rollback
        self.timeout_s = timeout_s

    def evaluate(self, observations: Iterable[Observation], now: datetime) -> list[Fired]:
        """Fire every rule an observation breaches and that is not cooling down; run actions."""
        now = now.astimezone(UTC)
        fired: list[Fired] = []
        for obs in observations:
            for rule in self.rules:
                if rule.metric != obs.metric:
                    continue
                if not rule.holds(obs.value):
                    self._recover(rule, obs.key)
                    continue
                count = self._claim(rule, obs, now)
                if count is not None:
                    fired.append(self._fire(rule, obs, now, count))
        return fired

    def _claim(self, rule: AlertRule, obs: Observation, now: datetime) -> int | None:
        """Atomically take the right to fire (rule, key); the new count, or None: suppressed."""
        t, cutoff = ALERT_STATE, now - timedelta(seconds=rule.cooldown_s)
        where = sa.and_(t.c.rule == rule.name, t.c.key == obs.key)
        due = sa.or_(t.c.breaching.is_(False), t.c.last_fired <= cutoff)
        fire = {"last_fired": now, "last_value": obs.value, "breaching": True}
        with self.store.errors("updating alert state"), self._engine().begin() as conn:
            done = conn.execute(t.update().where(where, due).values(count=t.c.count + 1, **fire))
            if done.rowcount == 1:
                return int(conn.execute(sa.select(t.c.count).where(where)).scalar_one())
            if conn.execute(sa.select(t.c.count).where(where)).first() is not None:
                conn.execute(t.update().where(where).values(last_value=obs.value))
                return None
        try:
            with self.store.errors("inserting alert state"), self._engine().begin() as conn:
                conn.execute(t.insert().values(rule=rule.name, key=obs.key, count=1, **fire))
        except sa.exc.IntegrityError:  # another engine fired this pair meanwhile
            return None
        return 1

    def _recover(self, rule: AlertRule, key: str) -> None:
        t = ALERT_STATE
        where = sa.and_(t.c.rule == rule.name, t.c.key == key, t.c.breaching.is_(True))
        with self.store.errors("updating alert state"), self._engine().begin() as conn:
            conn.execute(t.update().where(where).values(breaching=False))

    def _fire(self, rule: AlertRule, obs: Observation, now: datetime, count: int) -> Fired:
        base = Fired(
            rule.name,
            obs.key,
            obs.metric,
            obs.value,
            rule.op,
            rule.threshold,
            rule.severity,
            now,
            count,
        )
        fire = ActionOutcome(
            "fire",
            True,
            f"{obs.metric}={obs.value:g} {rule.op} {rule.threshold:g} (firing {count})",
        )
        outcomes = tuple(self._act(action, base) for action in rule.actions)
        fired = dataclasses.replace(base, outcomes=outcomes)
        self._append(fired, (fire, *outcomes))
        return fired

    def _act(self, action: AlertAction, fired: Fired) -> ActionOutcome:
        if action.kind == "webhook":
            return self._webhook(action.url or "", fired)
        if action.kind == "retrain":
            return self._retrain(action.model or "", fired)
        if action.kind == "rollback":
            return self._rollback(action.model or "", fired)
        level = logging.CRITICAL if fired.severity == "critical" else logging.WARNING
        log.log(
            level,
            "alert %s on %r: %s=%g %s %g (firing %d)",
            fired.rule,
            fired.key,
            fired.metric,
            fired.value,
            fired.op,
            fired.threshold,
            fired.count,
        )
        return ActionOutcome("log", True, f"logged at {logging.getLevelName(level)}")

    def _webhook(self, url: str, fired: Fired) -> ActionOutcome:
        body = json.dumps(fired.payload()).encode()
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return ActionOutcome("webhook", True, f"POST {url}: HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            detail = f"POST {url}: HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            detail = f"POST {url} failed: {exc}"
        log.warning("alert %s: webhook failed: %s", fired.rule, detail)
        return ActionOutcome("webhook", False, detail)

    def _retrain(self, model: str, fired: Fired) -> ActionOutcome:
        callback = self.on_retrain.get(model)
        if callback is None:
            detail = f"no retrain callback registered for model {model!r}; pass on_retrain"
            log.warning("alert %s: %s", fired.rule, detail)
            return ActionOutcome("retrain", False, detail)
        try:
            return ActionOutcome("retrain", True, callback(model, fired).summary())
        except MltrackError as exc:
            log.warning("alert %s: retraining %s failed: %s", fired.rule, model, exc)
            return ActionOutcome("retrain", False, f"{type(exc).__name__}: {exc}")

    def _rollback(self, model: str, fired: Fired) -> ActionOutcome:
        if self.on_rollback is None:
            detail = f"no rollback callback to roll {model!r} back; pass on_rollback"
            log.warning("alert %s: %s", fired.rule, detail)
            return ActionOutcome("rollback", False, detail)
        try:
            return ActionOutcome("rollback", True, self.on_rollback(model, fired))
        except MltrackError as exc:
            log.warning("alert %s: rolling %s back failed: %s", fired.rule, model, exc)
            return ActionOutcome("rollback", False, f"{type(exc).__name__}: {exc}")

    def _append(self, fired: Fired, outcomes: Sequence[ActionOutcome]) -> None:
        rows = [
            {
                "ts": fired.ts,
                "rule": fired.rule,
                "key": fired.key,
                "metric": fired.metric,
                "value": fired.value,
                "severity": fired.severity,
                "action": o.kind,
                "ok": o.ok,
                "detail": o.detail,
            }
            for o in outcomes
        ]
        with self.store.errors("appending to the alert log"), self._engine().begin() as conn:
            conn.execute(ALERT_LOG.insert(), rows)

    def history(self, rule: str | None = None) -> tuple[AlertLogEntry, ...]:
        """The alert log's rows (of one rule, when given), oldest first (timestamps in UTC)."""
        query = sa.select(ALERT_LOG).order_by(ALERT_LOG.c.id)
        if rule is not None:
            query = query.where(ALERT_LOG.c.rule == rule)
        with self.store.errors("reading the alert log"), self._engine().connect() as conn:
            rows = conn.execute(query).mappings().all()
        return tuple(
            AlertLogEntry(**(dict(r) | {"ts": r["ts"].replace(tzinfo=r["ts"].tzinfo or UTC)}))
            for r in rows
        )

    def _engine(self) -> sa.Engine:
        return self.store.engine(_META)
