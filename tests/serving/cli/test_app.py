"""The `ragline` CLI end to end (in-process), on a real model and a real Qdrant Edge store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app
from tests.rag.ingest_helpers import write_corpus

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("RAGLINE_CHUNKING__CHUNK_SIZE", "48")
    monkeypatch.setenv("RAGLINE_CHUNKING__CHUNK_OVERLAP", "8")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def test_ingest_prints_a_summary_and_reruns_idempotently(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    code, output = run("ingest", str(corpus), "--collection", "kb")
    assert code == 0, output
    assert "3 seen: 3 ingested, 0 unchanged, 0 skipped" in output
    assert "chunks/s" in output and "written from 3 documents" in output
    # the run is billed to the request id it prints: its embeddings and the points it wrote
    cost_line = next(line for line in output.splitlines() if "cost    request " in line)
    request_id = cost_line.split("request ")[1].split()[0]
    assert request_id.startswith("ingest-")
    with Ledger(LedgerConfig(), tmp_path / ".ragline") as ledger:
        events = [e for e in ledger.events() if e.request_id == request_id]
    assert {e.kind for e in events} == {"embedding", "vector_db"}
    points = sum(e.units for e in events if e.kind == "vector_db")

    code, output = run("ingest", str(corpus), "--collection", "kb")
    assert code == 0 and "0 ingested, 3 unchanged" in output

    code, output = run("collections")
    assert code == 0
    line = next(row for row in output.splitlines() if row.startswith("kb "))
    stored, files = map(int, line.split()[1:])
    assert stored == points > 3 and files == 3


def test_skipped_file_sets_exit_code_one_and_is_explained(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "bad.txt").write_bytes(b"\x00binary")
    code, output = run("ingest", str(corpus))
    assert code == 1
    assert "bad.txt: binary file" in output and "3 ingested" in output


def test_bad_settings_exit_two_before_any_work(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGLINE_CHUNKING__STRATEGY", "magic")
    code, output = run("ingest", str(write_corpus(tmp_path / "corpus")))
    assert code == 2 and "chunking.strategy" in output
    assert not (tmp_path / ".ragline" / "qdrant").exists()


def test_delete_one_source_then_reingest_restores_it(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    run("ingest", str(corpus))
    _, before = run("collections")
    code, output = run("delete", "--source", "orbits.md")
    assert code == 0 and "removed" in output
    code, output = run("delete", "--source", "orbits.md")
    assert code == 1 and "removed 0 chunks" in output

    code, output = run("ingest", str(corpus))
    assert code == 0 and "1 ingested, 2 unchanged" in output
    assert run("collections")[1] == before


def test_delete_all_drops_the_collection(run: Invoke, tmp_path: Path) -> None:
    run("ingest", str(write_corpus(tmp_path / "corpus")), "--collection", "gone")
    code, output = run("delete", "--all", "--collection", "gone")
    assert code == 0 and "dropped collection gone" in output
    assert "no collections yet" in run("collections")[1]
    assert run("delete", "--all", "--collection", "gone")[0] == 1


def test_strategy_option_changes_the_chunks(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    code, output = run("ingest", str(corpus), "--strategy", "semantic", "--collection", "sem")
    assert code == 0, output
    code, output = run("ingest", str(corpus), "--strategy", "fixed_size", "--collection", "sem")
    assert code == 0 and "3 ingested" in output, "a new strategy re-chunks every file"
