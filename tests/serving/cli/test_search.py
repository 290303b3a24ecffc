"""`ragline search` driven through a typer app, on a real model and a real Qdrant Edge store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ragline.core.embedding import Embedder
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.search import search_command
from ragline.serving.settings import load_settings
from ragline.serving.wiring import Accounting, build_ingestor, build_store
from tests.conftest import reuse
from tests.rag.ingest_helpers import write_corpus

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str, str]]
PARAPHRASE = "What makes a loaf puff up before it bakes?"

app = typer.Typer()


@app.callback()
def _main(ctx: typer.Context) -> None:
    ctx.obj = None  # where ragline.serving.cli.app keeps --config


app.command("search")(search_command)


def ingest_into(collection: str, folder: Path) -> Any:
    """Ingest `folder` into `collection` as `ragline ingest` would (settings from the env)."""
    settings = load_settings()
    with Accounting(settings) as costs:
        store = build_store(settings, collection, costs)
        try:
            ingestor = build_ingestor(settings, store, costs=costs)
            report = ingestor.run([folder])
            ingestor.manifest.close()
        finally:
            store.close()
    return report


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Path]:
    """A data dir with collection `kb` ingested from the small three-topic corpus."""
    root = tmp_path_factory.mktemp("search")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGLINE_DATA_DIR", str(root / ".ragline"))
        patch.setenv("RAGLINE_CHUNKING__CHUNK_SIZE", "48")
        patch.setenv("RAGLINE_CHUNKING__CHUNK_OVERLAP", "8")
        patch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))
        report = ingest_into("kb", write_corpus(root / "corpus", 3))
        assert report.files_ingested == 3
        yield root / ".ragline"


@pytest.fixture
def run(data_dir: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    # the session's loaded model stands in for a fresh load in each command
    monkeypatch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["search", *args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_human_output_ranks_chunks_with_sources_snippets_and_timing(
    run: Invoke, data_dir: Path
) -> None:
    code, out, _ = run(PARAPHRASE, "--collection", "kb", "--k", "3")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"{PARAPHRASE!r} in kb: hybrid (convex)"
    assert lines[1].startswith("  1. ") and "baking.txt" in lines[1] and "chunk " in lines[1]
    assert "yeast" in lines[2]
    assert sum(line.startswith(f"  {r}. ") for line in lines for r in (1, 2, 3)) == 3
    assert lines[-2].startswith("1 query in ") and lines[-2].endswith(" ms")
    # the search is metered: its query embedding and two leg queries are in the ledger
    assert lines[-1].startswith("request ") and "(3 cost events;" in lines[-1]
    with Ledger(LedgerConfig(), data_dir) as ledger:
        parts = ledger.breakdown(lines[-1].split()[1])
    assert set(parts) == {"embedding", "vector_db"}


def test_json_lines_carry_score_chunk_id_and_payload(run: Invoke) -> None:
    code, out, _ = run("Kepler planets", "--collection", "kb", "--mode", "sparse", "--json")
    assert code == 0
    records = json_lines(out)
    assert {r["source_document"] for r in records} == {"orbits.md"}  # BM25: chunks with the terms
    first = records[0]
    assert first["rank"] == 1 and first["source_document"] == "orbits.md"
    assert isinstance(first["chunk_id"], str) and isinstance(first["score"], float)
    assert "Kepler" in str(first["text"]) and first["section_heading"] == "Orbits"
    assert {"chunk_index", "source_path", "date_created"} <= set(first)
    scores = [float(str(r["score"])) for r in records]
    assert scores == sorted(scores, reverse=True)

    code, out, _ = run("Kepler planets", "--collection", "kb", "--json", "--k", "5")
    assert code == 0 and len(json_lines(out)) == 3  # one chunk of each of the 3 documents
    args = ("--collection", "kb", "--json", "--k", "5", "--per-document", "0")
    code, out, _ = run("Kepler planets", *args)
    assert code == 0 and len(json_lines(out)) == 5  # no cap: hybrid fills the page


def test_filters_restrict_the_results(run: Invoke) -> None:
    code, out, _ = run(
        PARAPHRASE, "--collection", "kb", "--json", "-f", "source_document=rivers.md,orbits.md",
        "--filter", "chunk_index>=1", "--k", "50",
    )  # fmt: skip
    records = json_lines(out)
    assert code == 0 and records
    assert {r["source_document"] for r in records} == {"rivers.md", "orbits.md"}
    assert all(int(str(r["chunk_index"])) >= 1 for r in records)


def test_queries_file_runs_every_query_once_with_the_single_query_results(
    run: Invoke, tmp_path: Path
) -> None:
    queries = [
        {"id": "q1", "text": PARAPHRASE},
        {"id": 2, "text": "Where does the Nile flow?"},
        {"text": "elliptical paths of planets"},
    ]
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in queries) + "\n\n")
    code, out, _ = run("--queries", str(path), "--collection", "kb", "--json", "--k", "4")
    assert code == 0
    lines = json_lines(out)
    assert [line["query_id"] for line in lines] == ["q1", "2", "3"]  # a missing id: line number
    tops = [line["results"][0]["source_document"] for line in lines]  # type: ignore[index]
    assert tops == ["baking.txt", "rivers.md", "orbits.md"]
    for query, line in zip(queries, lines, strict=True):
        _, single, _ = run(str(query["text"]), "--collection", "kb", "--json", "--k", "4")
        assert [r["chunk_id"] for r in line["results"]] == [  # type: ignore[attr-defined]
            r["chunk_id"] for r in json_lines(single)
        ]

    code, out, _ = run("--queries", str(path), "--collection", "kb", "--k", "2")
    assert code == 0 and "[q1] " in out and "[3] " in out
    assert out.splitlines()[-2].startswith("3 queries in ") and "ms/query" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["water", "--collection", "nope"], "collection 'nope' does not exist"),
        (["water", "--collection", "kb", "--filter", "page>=x"], "Accepted forms"),
        (["water", "--collection", "kb", "--mode", "fuzzy"], "--mode must be one of"),
        (["--collection", "kb"], "give exactly one of"),
        (["water", "--collection", "kb", "--queries", "q.jsonl"], "give exactly one of"),
        (["   ", "--collection", "kb"], "the query is empty"),
    ],
)
def test_bad_usage_exits_two_with_a_message(run: Invoke, args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert message in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "text": "ok"}\nnot json\n', "queries.jsonl:2: not JSON"),
        ('{"id": 1, "question": "wrong field"}\n', 'queries.jsonl:1: expected {"id"'),
        ("\n\n", "holds no queries"),
    ],
)
def test_bad_queries_file_exits_two_naming_the_line(
    run: Invoke, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "queries.jsonl"
    path.write_text(content)
    code, _, err = run("--queries", str(path), "--collection", "kb")
    assert code == 2 and message in err
    code, _, err = run("--queries", str(tmp_path / "missing.jsonl"), "--collection", "kb")
    assert code == 2 and "cannot read queries file" in err


def test_k_results_are_k_distinct_documents(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12 documents of several chunks each: `--k 10` gives 10 documents, single or batch;
    `--per-document 3` lets one document's chunks fill the page."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(12):
        body = " ".join(
            f"Note {n}.{i}: the harbour crane number {n} lifts containers of grain and steel "
            f"onto ship {i}, then the crew logs the load."
            for i in range(8)
        )
        (corpus / f"crane{n:02}.txt").write_text(body)
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("RAGLINE_CHUNKING__CHUNK_SIZE", "48")
    monkeypatch.setenv("RAGLINE_CHUNKING__CHUNK_OVERLAP", "8")
    monkeypatch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))
    report = ingest_into("cranes", corpus)
    assert report.files_ingested == 12 and report.chunks_written >= 36
    runner = CliRunner()
    query = "which crane lifts grain onto the ship"
    result = runner.invoke(app, ["search", query, "--collection", "cranes", "--k", "10", "--json"])
    assert result.exit_code == 0, result.output
    docs = [r["source_document"] for r in json_lines(result.stdout)]
    assert len(docs) == 10 and len(set(docs)) == 10

    path = tmp_path / "queries.jsonl"
    path.write_text(json.dumps({"id": "q", "text": query}) + "\n")
    args = ["search", "--queries", str(path), "--collection", "cranes", "--k", "10", "--json"]
    result = runner.invoke(app, args)
    [line] = json_lines(result.stdout)
    batch = [r["source_document"] for r in line["results"]]  # type: ignore[attr-defined]
    assert batch == docs

    args = ["search", query, "--collection", "cranes", "--k", "10", "--per-document", "3"]
    result = runner.invoke(app, [*args, "--json"])
    capped = [r["source_document"] for r in json_lines(result.stdout)]
    assert len(capped) == 10 and max(capped.count(d) for d in capped) == 3
