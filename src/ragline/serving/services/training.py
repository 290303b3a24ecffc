"""Training compute in the cost ledger: one "training" event per `ragline ml train` / `tune` run.

    usd = record_training(settings, "adult-income:3", 42.5, run_id="9f2c...")
    # ragline costs report --by component  ->  a "training" line beside llm, prediction, ...

The event's units are the run's wall-clock seconds, priced at `costs.training_usd_per_hour`
(`Prices.training_cost`; 0 by default: your own CPU), and it is billed to the cost scope
``train-<run_id>``, so `ragline costs request train-<run_id>` shows one run's cost and the
ledger's components sum to its total like any request's.
"""

from __future__ import annotations

from decimal import Decimal

from ragline.core.costs import cost_scope, work_event
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting

__all__ = ["record_training", "training_scope"]


def training_scope(run_id: str) -> str:
    """The cost-scope (request) id of one training run.

    Example:
        >>> training_scope("9f2c")
        'train-9f2c'
    """
    return f"train-{run_id}"


def record_training(settings: Settings, model: str, seconds: float, *, run_id: str) -> Decimal:
    """Write one "training" event (`seconds` of compute on `model`) to the ledger under the
    run's cost scope; returns its price. The ledger is flushed before this returns.

    Example:
        >>> record_training(settings, "adult-income:3", 42.5, run_id="9f2c")  # doctest: +SKIP
        Decimal('0')
    """
    with Accounting(settings) as costs, cost_scope(training_scope(run_id)) as scope:
        usd = costs.prices.training_cost(seconds)
        costs.sink.record(work_event("training", model, seconds, usd))
        return scope.total_usd()
