"""`RaglineRetriever`: ranks as `ragline search` does, from a script in the folder where
`ragline ingest` ran, and from a shared pipeline (filters, modes, async, errors)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from llama_index.core.schema import NodeWithScore

import ragline
from ragline.integrations.llama_index import RaglineRetriever
from tests.integrations.llama_index.conftest import COLLECTION, QUERY
from tests.rag.ingest_helpers import write_corpus

SCRIPT = """
import json, sys
from ragline.integrations.llama_index import RaglineRetriever

retriever = RaglineRetriever(collection=sys.argv[1], k=5)
for found in retriever.retrieve(sys.argv[2]):
    print(json.dumps({"id": found.node.node_id, "score": found.score,
                      "metadata": found.node.metadata, "text": found.node.get_content()}))
retriever.close()
"""


def run(folder: Path, *args: str) -> str:
    """Run `python *args` in `folder` as a user would: settings from the folder (./.ragline),
    no RAGLINE_* variable of this test session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env |= {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RAGLINE_CHUNKING__CHUNK_SIZE": "48",
        "RAGLINE_CHUNKING__CHUNK_OVERLAP": "8",
        "RAGLINE_EMBEDDING__ONNX_CACHE": str(folder / "onnx"),
    }
    done = subprocess.run(
        [sys.executable, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_a_script_in_the_ingest_folder_ranks_as_ragline_search(tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus", 3)
    cli = ("-m", "ragline.serving.cli.app")
    run(tmp_path, *cli, "ingest", "corpus", "--collection", COLLECTION)
    searched = run(
        tmp_path, *cli, "search", QUERY, "--collection", COLLECTION, "--k", "5", "--json"
    )
    expected = [json.loads(line) for line in searched.splitlines()]
    (tmp_path / "script.py").write_text(SCRIPT, encoding="utf-8")
    got = [json.loads(line) for line in run(tmp_path, "script.py", COLLECTION, QUERY).splitlines()]

    assert got[0]["metadata"]["source_document"] == expected[0]["source_document"] == "baking.txt"
    assert [g["id"] for g in got] == [e["chunk_id"] for e in expected]
    assert [g["score"] for g in got] == pytest.approx([e["score"] for e in expected])
    assert [g["text"] for g in got] == [e["text"] for e in expected]
    for g, e in zip(got, expected, strict=True):  # the whole payload but the text, as metadata
        assert g["metadata"] == {
            k: v for k, v in e.items() if k not in {"rank", "chunk_id", "score", "text"}
        }


@pytest.mark.integration
def test_nodes_carry_text_chunk_id_payload_and_score(kb: ragline.Pipeline) -> None:
    retriever = RaglineRetriever(collection=COLLECTION, k=3, pipeline=kb)
    found = retriever.retrieve(QUERY)
    hits = kb.search(QUERY, k=3, collection=COLLECTION)

    assert [n.node.node_id for n in found] == [h.id for h in hits]
    assert [n.score for n in found] == [h.score for h in hits]
    top = found[0].node
    assert top.metadata["source_document"] == "baking.txt"
    assert "text" not in top.metadata and "yeast" in top.get_content()
    assert {"chunk_index", "source_path"} <= set(top.metadata)
    # an LLM sees where the chunk comes from, not ragline's bookkeeping
    shown = top.get_content(metadata_mode="llm")  # type: ignore[arg-type]
    assert "source_document: baking.txt" in shown and "source_path" not in shown


@pytest.mark.integration
def test_filters_k_per_document_and_mode_are_passed_to_search(kb: ragline.Pipeline) -> None:
    only = RaglineRetriever(COLLECTION, 5, ["source_document=orbits.md"], pipeline=kb)
    assert {n.node.metadata["source_document"] for n in only.retrieve(QUERY)} == {"orbits.md"}

    one_each = RaglineRetriever(COLLECTION, 5, pipeline=kb).retrieve(QUERY)
    assert len(one_each) == 3  # one chunk per document, as `ragline search` by default
    uncapped = RaglineRetriever(COLLECTION, 5, pipeline=kb, per_document=0).retrieve(QUERY)
    assert len(uncapped) == 5

    sparse = RaglineRetriever(COLLECTION, 5, mode="sparse", pipeline=kb).retrieve("Kepler planets")
    assert {n.node.metadata["source_document"] for n in sparse} == {"orbits.md"}


@pytest.mark.integration
def test_async_retrieval_gives_the_sync_result(kb: ragline.Pipeline) -> None:
    retriever = RaglineRetriever(COLLECTION, 3, pipeline=kb)
    got: list[NodeWithScore] = asyncio.run(retriever.aretrieve(QUERY))
    assert [n.node.node_id for n in got] == [n.node.node_id for n in retriever.retrieve(QUERY)]


@pytest.mark.integration
def test_a_missing_collection_says_how_to_make_it(kb: ragline.Pipeline) -> None:
    with pytest.raises(ragline.CollectionNotFound, match="ragline ingest PATH --collection nope"):
        RaglineRetriever(collection="nope", pipeline=kb).retrieve(QUERY)


@pytest.mark.unit
def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(TypeError, match=r"filters=\['source_document=a.md'\]"):
        RaglineRetriever(COLLECTION, filters="source_document=a.md")
    with pytest.raises(ValueError, match="k must be at least 1"):
        RaglineRetriever(COLLECTION, k=0)
    settings = ragline.load_settings()
    with pytest.raises(ValueError, match="settings= or pipeline=, not both"):
        RaglineRetriever(COLLECTION, settings=settings, pipeline=ragline.Pipeline(settings))
