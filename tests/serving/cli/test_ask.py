"""`ragline ask` end to end (in-process) on a real model and Qdrant Edge: what it prints, its
JSON, the provider fallback, the embedding / vector-DB / model events it leaves in the ledger
under the request id it prints, and `--session`: a follow-up that only makes sense after the
first question is condensed with it, answered from the right document, and both turns kept."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.core.embedding import Embedder
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app
from ragline.serving.conversations.service import local_owner
from ragline.serving.conversations.sqlite_store import SqliteConversations
from tests.conftest import reuse
from tests.rag.ingest_helpers import write_corpus

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str, str]]
QUESTION = "Why does bread dough rise?"
FIRST, FOLLOW_UP = QUESTION, "What does it need?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Path]:
    """A data dir with collection `kb` ingested by `ragline ingest`."""
    root = tmp_path_factory.mktemp("ask")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGLINE_DATA_DIR", str(root / ".ragline"))
        patch.setenv("RAGLINE_CHUNKING__CHUNK_SIZE", "48")
        patch.setenv("RAGLINE_CHUNKING__CHUNK_OVERLAP", "8")
        patch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))
        corpus = write_corpus(root / "corpus", 3)
        result = CliRunner().invoke(app, ["ingest", str(corpus), "--collection", "kb"])
        assert result.exit_code == 0, result.output
    yield root / ".ragline"


@pytest.fixture
def run(data_dir: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    monkeypatch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, ["ask", *args, "--collection", "kb"])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def breakdown(data_dir: Path, request_id: str) -> dict[str, Decimal]:
    with Ledger(LedgerConfig(), data_dir) as ledger:
        return ledger.breakdown(request_id)


def test_prints_answer_citations_and_the_requests_cost(run: Invoke, data_dir: Path) -> None:
    code, stdout, _ = run(QUESTION)
    assert code == 0
    lines = stdout.splitlines()
    assert "[Source: baking.txt" in lines[0]
    assert "citations:" in lines and any("baking.txt" in line for line in lines)
    assert lines[-2].startswith("extractive:bm25 · retrieval ")
    assert lines[-1].startswith("request ") and "ragline costs breakdown" in lines[-1]
    request_id = lines[-1].split()[1]
    # ragline ask leaves its query embedding and vector-DB queries (and the free model call)
    assert set(breakdown(data_dir, request_id)) == {"embedding", "llm", "vector_db"}


def test_json_carries_the_request_id_and_the_ledgers_total(
    run: Invoke, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGLINE_COSTS__EMBEDDING_USD_PER_1M_TOKENS", "1000")
    monkeypatch.setenv("RAGLINE_COSTS__VECTOR_USD_PER_1K_QUERIES", "5")
    code, stdout, _ = run(QUESTION, "--json")
    assert code == 0
    data = json.loads(stdout)
    assert data["question"] == QUESTION and not data["abstained"]
    parts = breakdown(data_dir, data["request_id"])
    assert parts["vector_db"] == Decimal("0.01")  # two store queries: hybrid, then dense cosine
    assert parts["embedding"] > 0 and parts["llm"] == 0
    assert data["cost_usd"] == float(sum(parts.values())) > 0


def test_an_unrelated_question_abstains(run: Invoke) -> None:
    code, stdout, _ = run("Who won the 1998 football cup?")
    assert code == 0 and stdout.startswith("I don't have enough information")


def test_a_failing_provider_falls_back_and_says_so(run: Invoke, tmp_path: Path) -> None:
    missing = f"local:{tmp_path / 'missing.gguf'}"
    code, stdout, stderr = run(QUESTION, "--provider", missing)
    assert code == 2 and "model error" in stderr and "llm.local.model_path" in stderr
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGLINE_LLM__PROVIDER", missing)
        code, stdout, stderr = run(QUESTION)
    assert (code == 0 and stdout.startswith("Dough rises")) or "baking.txt" in stdout
    assert f"tried {missing}:Unavailable; answered with extractive:bm25" in stderr


def test_bad_usage_exits_two(run: Invoke, data_dir: Path) -> None:
    code, _, stderr = run("  ")
    assert code == 2 and "the question is empty" in stderr
    result = CliRunner().invoke(app, ["ask", QUESTION, "--collection", "nope"])
    assert result.exit_code == 2 and "collection 'nope' does not exist" in result.stderr


# -- --session ----------------------------------------------------------------------------


def test_a_follow_up_is_retrieved_with_the_sessions_context(run: Invoke, data_dir: Path) -> None:
    code, first, err = run(FIRST, "--session", "bread")
    assert code == 0, err
    assert "baking.txt" in first and "session bread: 1 turn stored" in err
    code, second, err = run(FOLLOW_UP, "--session", "bread")
    assert code == 0, err
    assert "session bread: 2 turns stored" in err
    assert f"retrieved for: {FOLLOW_UP} bread dough rise" in err  # the offline condenser
    assert "[Source: baking.txt" in second.splitlines()[0]
    store = SqliteConversations(data_dir / "conversations.db")
    held = store.load("bread", local_owner())
    store.close()
    assert [(m.role, m.content) for m in held][::2] == [("user", FIRST), ("user", FOLLOW_UP)]
    assert held[3].role == "assistant" and held[3].content == second.split("\n\ncitations:")[0]


def test_the_follow_up_alone_is_not_about_bread(run: Invoke) -> None:
    code, stdout, err = run(FOLLOW_UP)
    assert code == 0, err
    assert "[Source: baking.txt" not in stdout.splitlines()[0] and "session" not in err


def test_a_bad_session_name_exits_two(run: Invoke) -> None:
    code, _, err = run(FIRST, "--session", "../etc")
    assert code == 2 and "is not valid" in err
