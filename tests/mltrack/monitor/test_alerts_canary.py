"""`canary_first`: an alert's rollback aborts a running canary, else rolls production back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ragline.mltrack.monitor.alerts import Fired, canary_first

pytestmark = pytest.mark.unit

FIRED = Fired(
    "auc-low", "churn", "roc_auc", 0.71, "<", 0.8, "critical", datetime(2026, 12, 6, tzinfo=UTC), 1
)


def test_a_running_canary_is_aborted_instead_of_rolling_production_back() -> None:
    calls: list[tuple[str, str]] = []

    def abort(model: str, reason: str) -> str | None:
        calls.append((model, reason))
        return "churn: canary version 4 aborted" if model == "churn" else None

    act = canary_first(abort, lambda model, fired: f"{model}: production is version 2 again")
    assert act("churn", FIRED) == "churn: canary version 4 aborted"
    assert act("other", FIRED) == "other: production is version 2 again"
    assert calls == [
        ("churn", "alert auc-low: roc_auc=0.71"),
        ("other", "alert auc-low: roc_auc=0.71"),
    ]
