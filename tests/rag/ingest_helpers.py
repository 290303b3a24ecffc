"""Helpers for ingest tests: a small real corpus and an ingestor on a temporary Edge store."""

from __future__ import annotations

from pathlib import Path

import qdrant_edge as qe

from ragline.core.embedding import Embedder
from ragline.rag.config import ChunkingConfig, EmbeddingConfig, IngestConfig, SparseConfig
from ragline.rag.embed.sparse import Bm25Encoder
from ragline.rag.ingest import Ingestor, IngestReport, IngestSettings, Manifest
from ragline.rag.store.edge import QdrantEdgeStore

TOPICS = {
    "rivers.md": "Rivers carry water from mountains to the sea. The Nile flows north. "
    "Deltas form where rivers slow down and drop their sediment.",
    "baking.txt": "Bread needs flour, water, salt and yeast. Dough rises when yeast "
    "ferments sugars. A hot oven gives a crisp crust.",
    "orbits.md": "Planets orbit the Sun on elliptical paths. Kepler described their "
    "motion. Gravity keeps moons bound to their planets.",
}


def write_corpus(root: Path, repeat: int = 6) -> Path:
    """Three small documents on different topics, long enough for several chunks each."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in TOPICS.items():
        body = "\n\n".join(f"{text} Paragraph {i} adds detail number {i}." for i in range(repeat))
        heading = f"# {name.split('.')[0].title()}\n\n" if name.endswith(".md") else ""
        (root / name).write_text(heading + body + "\n", encoding="utf-8")
    return root


def make_ingestor(
    tmp: Path, embedder: Embedder, collection: str = "test", chunk_size: int = 48, **ingest: object
) -> Ingestor:
    settings = IngestSettings(
        ingest=IngestConfig.model_validate(ingest),
        chunking=ChunkingConfig(chunk_size=chunk_size, chunk_overlap=8),
        embedding=EmbeddingConfig(),
        sparse=SparseConfig(),
    )
    store = QdrantEdgeStore(tmp / "qdrant", collection)
    manifest = Manifest(tmp / "manifest.sqlite", f"edge:{tmp / 'qdrant'}", collection)
    return Ingestor(settings, embedder, Bm25Encoder(SparseConfig()), store, manifest)


def stored(path: Path) -> dict[str, str]:
    """Every point of an Edge shard as id -> source_path (read with the engine directly)."""
    shard = qe.EdgeShard.load(str(path))
    out: dict[str, str] = {}
    offset = None
    while True:
        records, offset = shard.scroll(
            qe.ScrollRequest(offset=offset, limit=256, with_payload=True)
        )
        for record in records:
            out[str(record.id)] = str((record.payload or {})["source_path"])
        if offset is None:
            break
    shard.close()
    return out


def ingest_once(tmp: Path, embedder: Embedder, corpus: Path, **options: object) -> IngestReport:
    """Run one ingest like a CLI call would: fresh objects, store closed afterwards."""
    ingestor = make_ingestor(tmp, embedder, **options)  # type: ignore[arg-type]
    try:
        return ingestor.run([corpus])
    finally:
        ingestor.store.close()
        ingestor.manifest.close()
