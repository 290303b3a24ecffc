"""`ragline.rag.fusion`: each method on hand-made legs whose right answer is plain."""

from __future__ import annotations

import pytest

from ragline.core.index import Hit
from ragline.rag.fusion import FUSIONS, by_document, confidence, documents, fuse

pytestmark = pytest.mark.unit


def leg(*scored: tuple[str, float]) -> list[Hit]:
    return [Hit(pid, score, {"source_document": pid[0]}) for pid, score in scored]


# Dense is sure of a1 (far above the rest); sparse cannot tell its hits apart.
DENSE = leg(("a1", 0.80), ("b1", 0.30), ("c1", 0.29), ("d1", 0.28), ("e1", 0.27))
SPARSE = leg(("c1", 2.02), ("d1", 2.01), ("e1", 2.00), ("b1", 1.99), ("a1", 1.98))


def test_adaptive_fusion_keeps_a_confident_legs_winner() -> None:
    fused = fuse(DENSE, SPARSE, "adaptive")
    assert fused[0].id == "a1"
    assert sorted(h.id for h in fused) == ["a1", "b1", "c1", "d1", "e1"]


@pytest.mark.parametrize("method", ["dbsf", "convex"])
def test_normalising_fusions_stretch_a_flat_leg(method: str) -> None:
    """DBSF and min-max scale each leg to its own spread, so sparse's 0.04-wide scores weigh
    as much as dense's clear gap: c1 (first in sparse, third in dense) wins."""
    assert fuse(DENSE, SPARSE, method)[0].id == "c1"  # type: ignore[arg-type]


def test_rrf_sees_ranks_only_and_gives_the_confident_winner_away() -> None:
    """The weakness the default moved away from: c1 sits first in sparse, third in dense."""
    fused = fuse(DENSE, SPARSE, "rrf")
    assert fused[0].id == "c1"
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)


def test_weights_and_alpha_move_the_order() -> None:
    assert fuse(DENSE, SPARSE, "rrf", rrf_k=1, weights=(3.0, 1.0))[0].id == "a1"
    assert fuse(DENSE, SPARSE, "convex", alpha=0.0)[0].id == "c1"  # sparse alone
    assert fuse(DENSE, SPARSE, "convex", alpha=1.0)[0].id == "a1"


def test_confidence_is_the_top_scores_z_score() -> None:
    assert confidence(DENSE) > 1.9 > confidence(SPARSE) - 0.5
    assert confidence([]) == 0.0
    assert confidence(leg(("a1", 1.0), ("b1", 1.0), ("c1", 1.0))) == 0.0  # no spread


@pytest.mark.parametrize("method", FUSIONS)
def test_one_empty_leg_leaves_the_other_legs_order(method: str) -> None:
    fused = fuse(DENSE, [], method)
    assert [h.id for h in fused] == [h.id for h in DENSE]


def test_ties_are_ordered_by_id_and_bad_methods_refused() -> None:
    same = leg(("b1", 1.0), ("a1", 1.0))
    assert [h.id for h in fuse(same, [], "dbsf")] == ["a1", "b1"]
    with pytest.raises(ValueError, match="fusion must be one of"):
        fuse(DENSE, SPARSE, "borda")  # type: ignore[arg-type]


def test_by_document_caps_chunks_per_document() -> None:
    hits = leg(("a1", 0.9), ("a2", 0.8), ("b1", 0.7), ("a3", 0.6), ("c1", 0.5))
    assert [h.id for h in by_document(hits, 3)] == ["a1", "b1", "c1"]
    assert [h.id for h in by_document(hits, 3, per_document=2)] == ["a1", "a2", "b1"]
    assert [h.id for h in by_document(hits, 4, per_document=None)] == ["a1", "a2", "b1", "a3"]
    assert documents(hits) == 3
    orphan = [Hit("x", 1.0, {}), Hit("y", 0.5, {})]  # no source_document: each its own
    assert len(by_document(orphan, 5)) == 2
