"""`Metrics` as the router's cost sink: the semantic cache's false-hit audits reach /metrics."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ragline.core.costs import AUDITED_HIT, FALSE_HIT, CostEvent
from ragline.serving.api.metrics import Metrics
from tests.serving.api.routes.test_ops import sample

pytestmark = pytest.mark.unit

MINI, BIG = "openai:gpt-4o-mini", "openai:gpt-4o"
AT = 1_780_000_000.0  # a fixed event time: /metrics ignores it, and no test reads the clock


def hit(model: str, cache: str | None, usd: str = "0") -> CostEvent:
    return CostEvent("llm", model, 100, 20, 0, 120.0, Decimal(usd), "r", AT, cache=cache)


def test_audits_false_hits_and_their_rate_per_model() -> None:
    metrics = Metrics()
    for event in [
        hit(MINI, None, "0.0003"),  # an audit's own model call: tokens and cost as any call
        hit(MINI, AUDITED_HIT),  # ...that confirmed the hit, served
        hit(MINI, FALSE_HIT),  # ...that refuted it: not served
        hit(MINI, AUDITED_HIT),
        hit(MINI, AUDITED_HIT),
        hit(BIG, "semantic"),  # a hit nobody re-checked
    ]:
        metrics.record(event)
    text = metrics.render()[0].decode()
    assert sample(text, "ragline_semantic_audits_total", model=MINI) == 4.0
    assert sample(text, "ragline_semantic_false_hits_total", model=MINI) == 1.0
    assert sample(text, "ragline_semantic_false_hit_rate", model=MINI) == 0.25
    assert sample(text, "ragline_semantic_audits_total", model=BIG) is None
    assert sample(text, "ragline_cache_hits_total", kind="semantic") == 4.0  # 3 audited + 1
    assert sample(text, "ragline_cache_hits_total", kind=AUDITED_HIT) is None
    assert sample(text, "ragline_tokens_total", model=MINI, direction="in") == 100.0
    assert sample(text, "ragline_cost_usd_total", model=MINI) == pytest.approx(0.0003)
