"""The collection owners table: the first claim wins, across instances (workers) and threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ragline.serving.api.tenancy.owners import CollectionOwners

pytestmark = pytest.mark.unit


def test_reading_before_any_claim_writes_nothing(tmp_path: Path) -> None:
    owners = CollectionOwners(tmp_path / "data" / "owners.sqlite3")
    assert owners.owner("docs") is None and owners.all() == {}
    assert not owners.path.exists()


def test_the_first_claim_wins_for_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "owners.sqlite3"
    with ThreadPoolExecutor(8) as pool:
        winners = set(pool.map(lambda i: CollectionOwners(path).claim("docs", f"t{i}"), range(8)))
    assert len(winners) == 1  # every claimant was told the same owner
    assert CollectionOwners(path).owner("docs") == winners.pop()
    assert CollectionOwners(path).claim("hr", "bob") == "bob"
    assert CollectionOwners(path).all().keys() == {"docs", "hr"}
