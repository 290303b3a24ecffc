"""Peer rankings for ragline's benchmarks: bench/peers.py run in its own venv, over our data.

    systems, seconds = peer_rankings(chunks, chunk_vectors, queries, query_vectors)
    systems["llamaindex"]["summary:json.loads"]    # its first 10 documents, best first

The peers (numpy dense, rank_bm25, LlamaIndex's QueryFusionRetriever, LangChain's
EnsembleRetriever; bench/peers.py says what each is) live in .venv-peers, built by `make peers`
from bench/peers-requirements.txt, so that a benchmark never adds to ragline's dependencies and
the frameworks' pins can't fight ours. This side needs numpy only: it writes the chunks, the
queries and their vectors to a temp directory, runs bench/peers.py there and reads back its
results.json. Every peer sees the same chunks and the same vectors as ragline, so what differs
is the retrieval, not the embedding.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEERS_SCRIPT = ROOT / "bench" / "peers.py"
PEERS = ("dense", "bm25", "llamaindex", "langchain")


def peer_rankings(
    chunks: Sequence[tuple[str, str, str]],
    chunk_vectors: np.ndarray,
    queries: Sequence[tuple[str, str]],
    query_vectors: np.ndarray,
    depth: int = 40,
    k: int = 10,
) -> tuple[dict[str, dict[str, list[str]]], dict[str, float]]:
    """Each peer's first `k` documents per query id (from `depth` chunks), and its query seconds.

    `chunks` are (chunk_id, text, doc), `queries` (query_id, text); row i of each vector matrix
    belongs to item i. Progress goes to stderr as the peers run.
    """
    if not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON.relative_to(ROOT)} is missing: run `make peers` first")
    if len(chunks) != len(chunk_vectors) or len(queries) != len(query_vectors):
        raise ValueError("one vector row per chunk and per query, in the same order")
    with tempfile.TemporaryDirectory(prefix="ragline-peers-") as tmp:
        folder = Path(tmp)
        records = [{"id": i, "text": t, "doc": d} for i, t, d in chunks]
        _write_jsonl(folder / "chunks.jsonl", records)
        _write_jsonl(folder / "queries.jsonl", [{"id": i, "text": t} for i, t in queries])
        np.save(folder / "chunk_vectors.npy", np.asarray(chunk_vectors, dtype=np.float32))
        np.save(folder / "query_vectors.npy", np.asarray(query_vectors, dtype=np.float32))
        (folder / "params.json").write_text(json.dumps({"depth": depth, "k": k}))
        # Our venv's PYTHONPATH (src, bench) must not leak into the peers' interpreter.
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        done = subprocess.run([str(PEERS_PYTHON), str(PEERS_SCRIPT), str(folder)], env=env)
        if done.returncode != 0:
            raise SystemExit(f"bench/peers.py failed (exit {done.returncode}); see its stderr")
        results = json.loads((folder / "results.json").read_text())
    return results["systems"], results["seconds"]


def _write_jsonl(path: Path, records: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
