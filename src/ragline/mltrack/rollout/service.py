"""Gradual rollouts of a registered model version: start, advance, judge, roll back, abort.

    rollouts = Rollouts(ModelRegistry(ml, data_dir), ml.rollout)
    state = rollouts.start("churn", 4, inputs, actor="ana")   # gates checked; canary at 5%
    rollouts.judge(state, canary_signals, production_signals, None, by=by)  # the server, live
    rollouts.advance("churn", actor="ana")                    # by hand: 5% -> 25%
    rollouts.abort("churn", actor="ana", reason="wrong build")  # canary 0%, production unchanged
    rollouts.status("churn")                                  # the latest rollout, any status

A rollout serves a staged version to `stages[i]` percent of callers next to production. The
production promotion gates are checked when it starts, so a refused candidate never reaches a
user; past the last stage (100%) the canary becomes production through the registry
(`ModelRegistry.adopt`, an ordinary ``promote`` row), so `ragline ml list` and `ragline ml
rollback` agree with it. Every step appends a row to the registry's append-only audit log
(``canary-start``, ``canary-advance``, ``canary-rollback``, ``canary-abort``, ``promote``) and a
line to the rollout's `steps`. One running rollout per model.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from ragline.mltrack.config import RolloutPolicy
from ragline.mltrack.errors import GateRefused, MltrackError
from ragline.mltrack.rollout.policy import MetricSignals, VersionSignals, judge
from ragline.mltrack.rollout.state import RolloutState, RolloutStore, Status
from ragline.mltrack.tracking.audit import Action, By
from ragline.mltrack.tracking.gates import GateInputs, PrimaryMetric, check_gates
from ragline.mltrack.tracking.registry import ModelRegistry

_RETRIES = 5  # compare-and-set attempts of a manual step racing the servers' verdicts


class Rollouts:
    """Rollouts of `registry`'s models under `policy`; state in the registry's database.

    Example:
        >>> rollouts = Rollouts(registry, RolloutPolicy(min_requests=50))  # doctest: +SKIP
        >>> rollouts.start("churn", 4, actor="ana", force=True, reason="hotfix").percent
        5
    """

    def __init__(
        self,
        registry: ModelRegistry,
        policy: RolloutPolicy,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry, self.policy = registry, policy
        self.store = RolloutStore(registry.store)
        self._clock = clock

    def start(
        self,
        name: str,
        version: int,
        inputs: GateInputs | None = None,
        *,
        actor: str,
        reason: str = "",
        force: bool = False,
        command: str | None = None,
    ) -> RolloutState:
        """Serve staged `version` to the first stage's percent of callers, after the production
        gates pass (GateRefused otherwise, with a ``refuse`` row; `force` overrides them and
        says so). `inputs` None means no evidence: every evidence gate fails."""
        by = self._by(actor, command)
        current = self.store.latest(name)
        if current is not None and current.running:
            raise MltrackError(
                f"{name} already has a running rollout of version {current.version} at "
                f"{current.percent}%; `ragline ml rollout abort {name} --reason TEXT` first"
            )
        info = self.registry.version(name, version)
        production = self.registry.current(name, "production")
        if info.stage != "staging":
            raise MltrackError(
                f"{name} version {version} is in {info.stage or 'no stage'}; a rollout starts "
                f"from staging: `ragline ml promote {name} {version} --to staging`"
            )
        if production is None:
            raise MltrackError(
                f"{name} has no production version to compare a canary with; promote the first "
                f"version directly: `ragline ml promote {name} {version} --to production`"
            )
        why = self._gates(name, version, inputs, by, force=force, reason=reason)
        first = self.policy.stages[0]
        line = self._line("start", f"0% -> {first}%", f"production {production.version}; {why}")
        state = RolloutState(name, version, production.version, first, "running", "", (line,))
        state = self.store.insert(state)
        self.registry.record(
            name, version, "canary-start", ("staging", f"{first}%"), by=by, reason=why
        )
        return state

    def status(self, name: str) -> RolloutState | None:
        """The latest rollout of `name` (running or finished); None when it never had one."""
        return self.store.latest(name)

    def advance(
        self, name: str, *, actor: str, reason: str = "", command: str | None = None
    ) -> RolloutState:
        """Move the running canary to the next stage; past 100% it becomes production
        (status ``promoted``)."""
        by = self._by(actor, command)
        for _ in range(_RETRIES):
            state = self._running(name)
            moved = self._advance(state, by, reason or f"advanced by {actor}")
            if moved is not None:
                return moved
        raise MltrackError(
            f"the rollout of {name} kept changing under us; check its status and retry"
        )

    def abort(
        self, name: str, *, actor: str, reason: str, command: str | None = None
    ) -> RolloutState:
        """Stop the running canary: it serves nobody, production is unchanged."""
        if not reason.strip():
            raise MltrackError("abort needs --reason TEXT: the audit log records why")
        by = self._by(actor, command)
        for _ in range(_RETRIES):
            state = self._running(name)
            done = self._finish(state, "aborted", "canary-abort", reason, by)
            if done is not None:
                return done
        raise MltrackError(
            f"the rollout of {name} kept changing under us; check its status and retry"
        )

    def judge(
        self,
        state: RolloutState,
        canary: VersionSignals,
        production: VersionSignals,
        metric: MetricSignals | None,
        *,
        by: By,
    ) -> RolloutState:
        """Apply the policy's verdict to `state` (as the caller last saw it): roll back on a
        breach, advance when healthy; the new state, or the stored one when another replica
        moved first, or `state` when the verdict is to wait."""
        verdict = judge(canary, production, metric, self.policy)
        if verdict.action == "wait" or not state.running:
            return state
        if verdict.action == "rollback":
            done = self._finish(state, "rolled_back", "canary-rollback", verdict.reason, by)
        else:
            done = self._advance(state, by, verdict.reason)
        return done if done is not None else (self.store.latest(state.name) or state)

    def _advance(self, state: RolloutState, by: By, why: str) -> RolloutState | None:
        """The next stage, or production after the last; None when the row moved first."""
        later = [p for p in self.policy.stages if p > state.percent]
        if not later:
            return self._promote(state, by, why)
        step = f"{state.percent}% -> {later[0]}%"
        moved = replace(
            state, percent=later[0], steps=(*state.steps, self._line("advance", step, why))
        )
        stored = self.store.replace(state, moved)
        if stored is not None:
            stages = (f"{state.percent}%", f"{later[0]}%")
            self.registry.record(
                state.name, state.version, "canary-advance", stages, by=by, reason=why
            )
        return stored

    def _promote(self, state: RolloutState, by: By, why: str) -> RolloutState | None:
        reason = f"canary rollout complete at {state.percent}%: {why}"
        line = self._line("promote", f"{state.percent}% -> production", why)
        done = replace(state, status="promoted", reason=reason, steps=(*state.steps, line))
        stored = self.store.replace(state, done)  # first: only one replica promotes
        if stored is None:
            return None
        try:
            self.registry.adopt(state.name, state.version, by=by, reason=reason)
        except MltrackError as exc:
            back = replace(stored, status="running", reason=f"promotion failed: {exc}")
            self.store.replace(stored, back)
            raise
        return stored

    def _finish(
        self, state: RolloutState, status: Status, action: Action, why: str, by: By
    ) -> RolloutState | None:
        word = "rollback" if status == "rolled_back" else "abort"
        line = self._line(word, f"{state.percent}% -> 0%", why)
        done = replace(state, status=status, reason=why, steps=(*state.steps, line))
        stored = self.store.replace(state, done)
        if stored is not None:
            stages = (f"{state.percent}%", "0%")
            self.registry.record(state.name, state.version, action, stages, by=by, reason=why)
        return stored

    def _gates(
        self,
        name: str,
        version: int,
        inputs: GateInputs | None,
        by: By,
        *,
        force: bool,
        reason: str,
    ) -> str:
        """The production gates' summary; GateRefused (and a ``refuse`` row) when one fails."""
        evidence = inputs or GateInputs(PrimaryMetric("unmeasured"))
        config = self.registry.config
        decision = check_gates(
            evidence,
            min_quality=config.min_quality,
            confidence=config.confidence,
            production_exists=True,
        )
        failed = ", ".join(r.name for r in decision.failed)
        if not decision.passed and not force:
            why = f"canary refused by {failed}\n{decision.summary()}"
            self.registry.record(
                name, version, "refuse", ("staging", "production"), by=by, reason=why
            )
            raise GateRefused(
                f"rollout of {name} version {version} refused by gate(s) {failed}:\n"
                f"{decision.summary()}\nImprove the candidate or its evidence; --force --reason "
                "TEXT overrides the gates and is recorded as forced"
            )
        if decision.passed:
            return f"gates passed; {reason}" if reason else "gates passed"
        if not reason.strip():
            raise MltrackError("--force needs --reason TEXT: the audit log records why")
        return f"FORCED past {failed}; reason: {reason}"

    def _running(self, name: str) -> RolloutState:
        state = self.store.latest(name)
        if state is None or not state.running:
            last = "none yet" if state is None else f"the last one is {state.status}"
            raise MltrackError(
                f"{name} has no running rollout ({last}); "
                f"`ragline ml rollout start {name} VERSION` starts one"
            )
        return state

    def _line(self, action: str, move: str, why: str) -> str:
        first = why.splitlines()[0] if why else ""
        return f"{self._clock():%Y-%m-%d %H:%M:%S} {action} {move}: {first}"

    @staticmethod
    def _by(actor: str, command: str | None) -> By:
        return By(actor, command or shlex.join(sys.argv))
