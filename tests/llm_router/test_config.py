"""The model layer's settings: the cascade's tier ranking, checked when the config loads."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from ragline.llm_router.config import CascadeConfig, LlmConfig
from ragline.llm_router.policies import DEFAULT_TIERS, Deployment
from tests.paths import REPO

pytestmark = pytest.mark.unit

FAST = Deployment(model="openai:gpt-4o-mini", tier="fast")
SMART = Deployment(model="openai:gpt-4.1", tier="smart")


def test_the_cascade_ranks_the_default_tiers_cheapest_first() -> None:
    assert CascadeConfig().tiers == DEFAULT_TIERS == ("cheap", "default", "smart")
    shipped = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    assert tuple(shipped["llm"]["cascade"]["tiers"]) == DEFAULT_TIERS


def test_a_cascade_over_a_tier_it_does_not_rank_is_a_config_error() -> None:
    with pytest.raises(ValidationError) as caught:
        LlmConfig(policy="cascade", deployments=(FAST, SMART))
    message = str(caught.value)
    assert "tiers ['fast']" in message and "add them there (cheapest first)" in message
    ranked = LlmConfig(
        policy="cascade", deployments=(FAST, SMART), cascade=CascadeConfig(tiers=("fast", "smart"))
    )
    assert ranked.cascade.tiers == ("fast", "smart")
    # other policies use tiers as names only (cost: the pool it picks from)
    assert LlmConfig(policy="cost", tier="fast", deployments=(FAST,)).tier == "fast"


@pytest.mark.parametrize("tiers", [(), ("cheap", "cheap"), ("cheap", ""), (" smart",)])
def test_tiers_name_each_tier_once(tiers: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="tiers"):
        CascadeConfig(tiers=tiers)
