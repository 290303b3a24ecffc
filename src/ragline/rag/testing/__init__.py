"""Conformance suites for the rag layer's seams, Haystack-style: one class per protocol that an
adapter's tests inherit (ragline's own adapters, and a third party's).

    from ragline.rag.testing import VectorStoreConformance

    class TestMyStore(VectorStoreConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def make_store(cls, tmp_path_factory): ...

VectorStoreConformance  `ragline.rag.store.VectorStore` (collections, filters, hybrid, scroll)
VectorIndexConformance  `ragline.core.index.VectorIndex` (dense points, filters, delete)
EmbedderConformance     `ragline.core.embedding.Embedder` (shape, dtype, norms, batching)

The suites need pytest (`pip install 'ragline[dev]'`).
"""

from ragline.rag.testing.embedder import EmbedderConformance
from ragline.rag.testing.index import IndexFactory, VectorIndexConformance
from ragline.rag.testing.store import StoreFactory, VectorStoreConformance

__all__ = [
    "EmbedderConformance",
    "IndexFactory",
    "StoreFactory",
    "VectorIndexConformance",
    "VectorStoreConformance",
]
