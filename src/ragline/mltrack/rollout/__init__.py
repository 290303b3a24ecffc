"""Gradual rollout (canary) of classical models on POST /v1/predict, with automatic rollback.

    rollouts = Rollouts(ModelRegistry(ml, data_dir), ml.rollout)
    rollouts.start("churn", 4, inputs, actor="ana")     # 5% of callers, gates checked first
    rollouts.status("churn").percent                    # 5 -> 25 -> 50 -> 100 -> production
    rollouts.abort("churn", actor="ana", reason="...")  # canary 0%, production unchanged

policy    the verdict, pure: wait / roll back (error rate, latency, prediction drift, metric)
          / advance, on `VersionSignals`
window    per-process windows of live signals the server feeds (`SignalWindow`)
state     the rollout row shared by replicas and the CLI (`RolloutState`, `RolloutStore`)
service   `Rollouts`: start, status, advance, abort, judge; every step audited
evidence  the production gates' evidence of a candidate (`gate_evidence`)
"""

from ragline.mltrack.config import RolloutPolicy
from ragline.mltrack.rollout.policy import MetricSignals, Verdict, VersionSignals, judge, score_kl
from ragline.mltrack.rollout.service import Rollouts
from ragline.mltrack.rollout.state import RolloutState, RolloutStore
from ragline.mltrack.rollout.window import SignalWindow

__all__ = [
    "MetricSignals",
    "RolloutPolicy",
    "RolloutState",
    "RolloutStore",
    "Rollouts",
    "SignalWindow",
    "Verdict",
    "VersionSignals",
    "judge",
    "score_kl",
]
