"""`llm.batch` settings refuse a poll interval that could never grow."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragline.llm_router.batch.config import BatchConfig

pytestmark = pytest.mark.unit


def test_max_poll_below_poll_is_refused_with_the_fix() -> None:
    with pytest.raises(ValidationError, match="raise max_poll_s or lower poll_s"):
        BatchConfig(poll_s=30, max_poll_s=10)
    assert BatchConfig(poll_s=5, max_poll_s=5).retries == 2
