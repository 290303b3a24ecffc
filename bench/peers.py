"""Peer retrievers on ragline's chunks and vectors: numpy, rank_bm25, LlamaIndex, LangChain.

    .venv-peers/bin/python bench/peers.py DIR        # `make peers` builds .venv-peers

Runs inside .venv-peers (bench/peers-requirements.txt), never in ragline's venv, and never
imports ragline: the peers are bench-only, and bench/peer_run.py is the side that ragline's
benchmarks call. DIR holds chunks.jsonl ({"id", "text", "doc"}), chunk_vectors.npy (row i =
chunk i, L2-normalised float32), queries.jsonl ({"id", "text"}), query_vectors.npy and
params.json ({"depth", "k"}); the answer goes to DIR/results.json as {"systems": {name:
{query_id: [doc, ...]}}, "seconds": {name: s}, "build_seconds": {name: s}, "versions": {...}}.
Systems, each asking `depth` chunks per query (a query's ranking is then the first `k` distinct
documents, each at its best chunk's rank, as retrieval_quality.doc_ranking does):

- `dense`: cosine (a dot product of normalised vectors) over every chunk, in numpy.
- `bm25`: rank_bm25's BM25Okapi on lowercased \\w+ words: what a 20-line script would do.
- `llamaindex`: QueryFusionRetriever in "reciprocal_rerank" mode (RRF, k=60) over a
  VectorStoreIndex retriever and llama-index-retrievers-bm25 (bm25s, with its defaults:
  English stopwords and Snowball stemming); num_queries=1, so no query is rewritten.
- `langchain`: EnsembleRetriever (weighted RRF, c=60, equal weights) over community
  BM25Retriever.from_texts (rank_bm25 with its default whitespace split: case and
  punctuation kept) and an InMemoryVectorStore retriever. It merges chunks by their text, so
  identical chunks of two documents count once, for the first; LlamaIndex keeps them apart.

Same chunks, same MiniLM vectors: both frameworks embed through a lookup of the vectors given
(a text not in the table raises, so nothing else gets embedded), no LLM is built (MockLLM is
passed, and never called with one query), and every internet socket is refused, so a hidden
model download or API call fails loudly instead of changing the numbers. `seconds` is the time
of all queries, `build_seconds` that of indexing.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

PACKAGES = (
    "numpy",
    "rank-bm25",
    "llama-index-core",
    "llama-index-retrievers-bm25",
    "bm25s",
    "PyStemmer",
    "langchain-core",
    "langchain-classic",
    "langchain-community",
)
_WORD = re.compile(r"\w+")
_STARTED = time.perf_counter()

Search = Callable[[int], list[str]]  # query index -> the doc of each retrieved chunk, best first


def log(message: str) -> None:
    """A progress line on stderr with the seconds since the script started."""
    print(f"[{time.perf_counter() - _STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


def refuse_network() -> None:
    """Make every internet connection raise: a peer that reaches out fails, it can't drift."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"bench/peers.py is offline: a peer tried to connect to {address}")
        real_connect(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]


@dataclass(frozen=True)
class Data:
    """What DIR holds, in order."""

    chunk_ids: list[str]
    texts: list[str]
    docs: list[str]
    chunk_vectors: np.ndarray
    query_ids: list[str]
    queries: list[str]
    query_vectors: np.ndarray

    @classmethod
    def load(cls, folder: Path) -> Data:
        chunks = _read_jsonl(folder / "chunks.jsonl")
        queries = _read_jsonl(folder / "queries.jsonl")
        data = cls(
            [c["id"] for c in chunks],
            [c["text"] for c in chunks],
            [c["doc"] for c in chunks],
            np.load(folder / "chunk_vectors.npy"),
            [q["id"] for q in queries],
            [q["text"] for q in queries],
            np.load(folder / "query_vectors.npy"),
        )
        if len(data.chunk_vectors) != len(chunks) or len(data.query_vectors) != len(queries):
            raise SystemExit(f"{folder}: vector rows don't match the chunks or the queries")
        return data


class Lookup:
    """The precomputed vector of a text; a text that isn't in the table raises KeyError."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, kind: str) -> None:
        self._rows = {text: row for row, text in reversed(list(enumerate(texts)))}
        self._vectors = vectors
        self._kind = kind

    def __call__(self, text: str) -> list[float]:
        row = self._rows.get(text)
        if row is None:
            raise KeyError(f"no precomputed {self._kind} vector for {text[:80]!r}")
        return [float(x) for x in self._vectors[row]]


def dense(data: Data, depth: int) -> Search:
    """Every chunk scored by its dot product with the query vector (both normalised)."""

    def search(i: int) -> list[str]:
        scores = data.chunk_vectors @ data.query_vectors[i]
        return [data.docs[row] for row in np.argsort(-scores, kind="stable")[:depth]]

    return search


def bm25(data: Data, depth: int) -> Search:
    """rank_bm25's BM25Okapi (k1 1.5, b 0.75) over lowercased \\w+ words, no stemming."""
    from rank_bm25 import BM25Okapi

    index = BM25Okapi([_WORD.findall(text.lower()) for text in data.texts])

    def search(i: int) -> list[str]:
        scores = index.get_scores(_WORD.findall(data.queries[i].lower()))
        return [data.docs[row] for row in np.argsort(-scores, kind="stable")[:depth]]

    return search


def llamaindex(data: Data, depth: int) -> Search:
    """QueryFusionRetriever (RRF) over a VectorStoreIndex retriever and bm25s BM25Retriever."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever
    from pydantic import PrivateAttr

    class LookupEmbedding(BaseEmbedding):
        _chunks: Lookup = PrivateAttr()
        _queries: Lookup = PrivateAttr()

        def __init__(self, chunks: Lookup, queries: Lookup) -> None:
            super().__init__(model_name="precomputed")
            self._chunks, self._queries = chunks, queries

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._chunks(text)

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._queries(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._queries(query)

    embed = LookupEmbedding(_chunk_lookup(data), _query_lookup(data))
    # The doc name stays out of what is embedded and what BM25 reads (LlamaIndex prepends
    # metadata to both by default); the lookup would raise on "doc: ...\n\ntext" anyway.
    nodes = [
        TextNode(
            text=text,
            id_=chunk_id,
            metadata={"doc": doc},
            excluded_embed_metadata_keys=["doc"],
            excluded_llm_metadata_keys=["doc"],
        )
        for chunk_id, text, doc in zip(data.chunk_ids, data.texts, data.docs, strict=True)
    ]
    vector = VectorStoreIndex(nodes, embed_model=embed).as_retriever(similarity_top_k=depth)
    sparse = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=depth)
    fusion = QueryFusionRetriever(
        [vector, sparse],
        llm=MockLLM(),
        similarity_top_k=depth,
        num_queries=1,
        mode="reciprocal_rerank",
        use_async=False,
    )
    return lambda i: [hit.node.metadata["doc"] for hit in fusion.retrieve(data.queries[i])]


def langchain(data: Data, depth: int) -> Search:
    """EnsembleRetriever (RRF) over community BM25Retriever and an InMemoryVectorStore."""
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore

    class LookupEmbeddings(Embeddings):
        def __init__(self, chunks: Lookup, queries: Lookup) -> None:
            self._chunks, self._queries = chunks, queries

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [self._chunks(text) for text in texts]

        def embed_query(self, text: str) -> list[float]:
            return self._queries(text)

    metadatas = [{"doc": doc} for doc in data.docs]
    sparse = BM25Retriever.from_texts(data.texts, metadatas, k=depth)
    store = InMemoryVectorStore(LookupEmbeddings(_chunk_lookup(data), _query_lookup(data)))
    store.add_texts(data.texts, metadatas, ids=data.chunk_ids)
    vector = store.as_retriever(search_kwargs={"k": depth})
    ensemble = EnsembleRetriever(retrievers=[sparse, vector])
    return lambda i: [doc.metadata["doc"] for doc in ensemble.invoke(data.queries[i])]


SYSTEMS: dict[str, Callable[[Data, int], Search]] = {
    "dense": dense,
    "bm25": bm25,
    "llamaindex": llamaindex,
    "langchain": langchain,
}


def doc_ranking(docs: list[str], k: int) -> list[str]:
    """The first `k` distinct documents of a chunk ranking, each at its best chunk's rank."""
    return list(dict.fromkeys(docs))[:k]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit(f"usage: {argv[0]} DIR")
    folder = Path(argv[1])
    refuse_network()
    data = Data.load(folder)
    params = json.loads((folder / "params.json").read_text())
    depth, k = int(params["depth"]), int(params["k"])
    versions = {package: version(package) for package in PACKAGES}
    log("peers: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    duplicates = len(data.texts) - len(set(data.texts))
    log(
        f"{len(data.texts)} chunks ({duplicates} repeat an earlier chunk's text), "
        f"{len(data.queries)} queries, depth {depth}, k {k}"
    )
    results: dict[str, Any] = {"systems": {}, "seconds": {}, "build_seconds": {}}
    for name, build in SYSTEMS.items():
        started = time.perf_counter()
        search = build(data, depth)
        built = time.perf_counter()
        results["systems"][name] = {
            query_id: doc_ranking(search(i), k) for i, query_id in enumerate(data.query_ids)
        }
        results["build_seconds"][name] = built - started
        results["seconds"][name] = time.perf_counter() - built
        log(
            f"{name:10} {len(data.queries)} queries in {results['seconds'][name]:.2f} s "
            f"(index {results['build_seconds'][name]:.2f} s)"
        )
    results["versions"] = versions
    (folder / "results.json").write_text(json.dumps(results))
    return 0


def _chunk_lookup(data: Data) -> Lookup:
    return Lookup(data.texts, data.chunk_vectors, "chunk")


def _query_lookup(data: Data) -> Lookup:
    return Lookup(data.queries, data.query_vectors, "query")


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
