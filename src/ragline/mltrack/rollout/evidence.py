"""The production gates' evidence for a rollout's candidate, from the experiments that trained
it and the current production version (as `ragline ml promote` gathers it).

    inputs = gate_evidence(registry, "churn", 4)
    Rollouts(registry, ml.rollout).start("churn", 4, inputs, actor="ana")

Kept apart from `Rollouts` so that a rollout can start on evidence gathered elsewhere (a test,
another training system) and the service does not import training.
"""

from __future__ import annotations

from ragline.mltrack.tabular.jobs import DEFAULT_TOLERANCE
from ragline.mltrack.tabular.jobs import gate_evidence as _gathered
from ragline.mltrack.tracking.experiments import Tracker
from ragline.mltrack.tracking.gates import GateInputs
from ragline.mltrack.tracking.registry import ModelRegistry


def gate_evidence(
    registry: ModelRegistry, name: str, version: int, tolerance: float = DEFAULT_TOLERANCE
) -> GateInputs:
    """The candidate's recorded evidence against production's (golden rows when its config
    named a ``golden`` file), as `ragline ml promote` gathers it
    (`ragline.mltrack.tabular.jobs.gate_evidence`); MltrackError when a version has no training
    run to read.

    Example:
        >>> gate_evidence(registry, "churn", 4).quality_score  # doctest: +SKIP
        24
    """
    with Tracker(registry.config, registry.store.data_dir) as tracker:
        return _gathered(registry, tracker, name, version, tolerance)[0]
