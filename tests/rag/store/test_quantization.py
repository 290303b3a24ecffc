"""`store.quantization` (int8 | binary, with `rescore` and `oversampling`) on both adapters:
the collection is created with it, queries carry it, a quantized store keeps the contract, and
a collection created otherwise is refused with an error naming the fixes."""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client.http.exceptions import UnexpectedResponse

from ragline.core.index import DENSE, CollectionSpec, StorePoint, StoreQuery
from ragline.rag.config import Quantization, ServerStoreConfig, StoreConfig
from ragline.rag.errors import StoreError
from ragline.rag.store.edge import QdrantEdgeStore
from ragline.rag.store.registry import default_stores
from ragline.rag.store.server import QdrantServerStore, collection_args
from ragline.rag.testing.store import POINTS, SPEC, StoreFactory, VectorStoreConformance
from tests.rag.store.qdrant_fake import FakeQdrant

pytestmark = pytest.mark.integration

WIDE = 64  # wide enough that one bit a dim still ranks something


def unit_rows(count: int, dims: int = WIDE, seed: int = 3) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, dims)).astype(np.float32)
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))


def filled_edge(root: Path, quantization: Quantization, rows: np.ndarray) -> QdrantEdgeStore:
    """An Edge store holding `rows`, every segment indexed (so quantized copies exist)."""
    store = QdrantEdgeStore(root, "docs", quantization=quantization, index_threshold_kb=1)
    store.ensure_collection(CollectionSpec(dims=rows.shape[1], indexes={}))
    ids = [str(uuid.UUID(int=i + 1)) for i in range(len(rows))]
    store.upsert([StorePoint(ids[i], rows[i], None, {"n": i}) for i in range(len(rows))])
    store.optimize()
    return store


class TestQuantizedEdgeStore(VectorStoreConformance):
    """The whole contract on an int8 collection with rescoring, every segment indexed."""

    @pytest.fixture(scope="class")
    @classmethod
    def make_store(cls, tmp_path_factory: pytest.TempPathFactory) -> StoreFactory:
        root = tmp_path_factory.mktemp("quantized")
        return lambda: QdrantEdgeStore(
            Path(tempfile.mkdtemp(dir=root)),
            "docs",
            quantization=Quantization(kind="int8"),
            index_threshold_kb=1,
        )


@pytest.mark.parametrize(("kind", "stored"), [("int8", "scalar"), ("binary", "binary")])
def test_edge_creates_the_collection_quantized(tmp_path: Path, kind: str, stored: str) -> None:
    store = default_stores().get("edge").open(StoreConfig(quantization=kind), tmp_path, "docs")
    store.ensure_collection(SPEC)
    config = json.loads((tmp_path / "docs" / "edge_config.json").read_text())
    assert list(config["quantization_config"]) == [stored]
    store.close()


@pytest.mark.parametrize("kind", ["int8", "binary"])
def test_edge_search_reads_the_quantized_copy_and_rescores(tmp_path: Path, kind: str) -> None:
    rows = unit_rows(400)
    query = rows[7] + 0.2 * unit_rows(1, seed=9)[0]
    query /= np.linalg.norm(query)  # cosine = dot product
    exact = np.sort(rows @ query)[::-1][:5]
    rough = filled_edge(tmp_path / "a", Quantization(kind=kind, rescore=False), rows)
    rescored = filled_edge(tmp_path / "b", Quantization(kind=kind, oversampling=4.0), rows)
    plain = rough.query(StoreQuery(dense=query, limit=5))
    best = rescored.query(StoreQuery(dense=query, limit=5))
    # without rescoring the scores are the quantized copy's, not the float32 cosines
    assert not np.allclose([h.score for h in plain], exact, atol=1e-4)
    np.testing.assert_allclose([h.score for h in best], exact, atol=1e-5)
    assert best[0].payload["n"] == 7
    for store in (rough, rescored):
        store.close()


def test_edge_hybrid_queries_rescore_the_dense_leg(tmp_path: Path) -> None:
    store = QdrantEdgeStore(tmp_path, "docs", quantization=Quantization(kind="binary"))
    store.ensure_collection(SPEC)
    store.upsert(POINTS)
    hits = store.query(StoreQuery(dense=POINTS[2].dense, sparse=POINTS[2].sparse, limit=3))
    assert hits[0].id == POINTS[2].id
    store.close()


def test_edge_searches_a_collection_as_it_was_made_and_says_how_to_change_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = unit_rows(300)
    filled_edge(tmp_path, Quantization(kind="binary", rescore=False), rows).close()
    later = QdrantEdgeStore(tmp_path, "docs")  # settings now say: no quantization
    with caplog.at_level(logging.WARNING, logger="ragline.rag.store"):
        later.ensure_collection(CollectionSpec(dims=WIDE, indexes={}))
    [record] = caplog.records
    message = record.getMessage()
    assert "created with store.quantization 'binary'" in message and "'none'" in message
    assert "--collection NEW" in message and "ragline delete --all --collection docs" in message
    # searched as made (binary copy, rescored by default), not as an unquantized collection
    hits = later.query(StoreQuery(dense=rows[11], limit=3))
    assert hits[0].payload["n"] == 11 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    json_config = json.loads((tmp_path / "docs" / "edge_config.json").read_text())
    assert list(json_config["quantization_config"]) == ["binary"]  # nothing rewritten
    later.close()


def test_edge_refuses_vectors_of_another_width(tmp_path: Path) -> None:
    QdrantEdgeStore(tmp_path, "docs").ensure_collection(SPEC)
    with pytest.raises(StoreError, match=r"embedding\.truncate_dim"):
        QdrantEdgeStore(tmp_path, "docs").ensure_collection(CollectionSpec(dims=4))


def test_server_asks_for_binary_quantization() -> None:
    args = collection_args(SPEC, ServerStoreConfig(), Quantization(kind="binary", always_ram=True))
    assert args["quantization_config"].binary.always_ram is True
    with FakeQdrant() as fake:
        store = QdrantServerStore("docs", url=fake.url, quantization=Quantization(kind="binary"))
        store.ensure_collection(SPEC)
        [body] = fake.bodies("PUT", "/collections/docs")
    assert body["quantization_config"] == {"binary": {}}


@pytest.mark.parametrize("hybrid", [False, True], ids=["dense", "hybrid"])
def test_server_queries_carry_rescore_and_oversampling(hybrid: bool) -> None:
    quantization = Quantization(kind="int8", rescore=True, oversampling=3.0)
    query = StoreQuery(dense=POINTS[0].dense, sparse=POINTS[0].sparse if hybrid else None)
    # The stand-in answers no searches (404); what matters is what the adapter sent.
    with FakeQdrant(collections=("docs",)) as fake:
        store = QdrantServerStore("docs", url=fake.url, quantization=quantization)
        with pytest.raises(UnexpectedResponse):
            store.query(query)
        [body] = fake.bodies("POST", "/collections/docs/points/query")
    params = body["prefetch"][0]["params"] if hybrid else body["params"]
    assert params == {"quantization": {"rescore": True, "oversampling": 3.0}}
    if hybrid:
        assert body["prefetch"][0]["using"] == DENSE and "params" not in body["prefetch"][1]


def test_server_local_mode_takes_the_setting_and_searches_exactly() -> None:
    config = StoreConfig(backend="server", url=":memory:", quantization="binary")
    store = default_stores().get("server").open(config, Path("unused"), "docs")
    assert isinstance(store, QdrantServerStore) and store.quantization.kind == "binary"
    store.ensure_collection(SPEC)
    store.upsert(POINTS)
    store.ensure_collection(SPEC)  # local mode keeps no quantization: nothing to refuse
    hits = store.query(StoreQuery(dense=POINTS[4].dense, limit=2))
    assert hits[0].id == POINTS[4].id and hits[0].score == pytest.approx(1.0, abs=1e-5)


@pytest.mark.unit
def test_store_quantization_settings() -> None:
    assert StoreConfig().vector_quantization() == Quantization()
    chosen = StoreConfig(quantization="binary", rescore=False, oversampling=3.0)
    assert chosen.vector_quantization() == Quantization(
        kind="binary", rescore=False, oversampling=3.0
    )
    older = StoreConfig(backend="server", url=":memory:", server={"quantization": "int8"})
    assert older.vector_quantization().kind == "int8"
    with pytest.raises(ValueError, match=r"set only store\.quantization"):
        StoreConfig(quantization="binary", server={"quantization": "int8"})
    with pytest.raises(ValueError, match="oversampling"):
        StoreConfig(oversampling=0.5)
