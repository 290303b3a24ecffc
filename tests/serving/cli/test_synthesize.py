"""`ragline synthesize` end to end: a tiny real ingest (MiniLM, Qdrant Edge), then questions
from an OpenAI-format model served over HTTP on 127.0.0.1 by a fake written here, and from the
real llama.cpp server (SmolLM2-135M, whose JSON may well be bad: those are counted failures)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from ragline.core.embedding import Embedder
from ragline.core.index import CollectionSpec
from ragline.evals.datasets import load_golden_jsonl
from ragline.serving.cli.app import app
from ragline.serving.services.ingest import ingest_paths
from ragline.serving.settings import load_settings
from ragline.serving.wiring import Accounting, build_store
from tests.conftest import reuse

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str, str]]

FILLER = (
    "Readers often ask about this topic, and the short explanation here is meant for anyone "
    "who wants the main facts without a long detour through the history of the subject."
)
DOCS = {  # one chunk each; note.txt is too short to ask about
    "rivers.txt": "Rivers carry water from mountains to the sea. The Nile flows north "
    "through Egypt. Deltas form where rivers slow down and drop their sediment. " + FILLER,
    "baking.txt": "Bread needs flour, water, salt and yeast. Dough rises when the yeast "
    "ferments sugars and releases gas. A hot oven gives a crisp crust. " + FILLER,
    "sourdough.txt": "Sourdough uses a starter of wild yeast instead of packaged yeast. The "
    "dough rises slowly while the yeast works, which gives the bread its sour taste. " + FILLER,
    "orbits.txt": "Planets orbit the Sun on elliptical paths. Kepler described their motion "
    "in three laws. Gravity keeps moons bound to their planets. " + FILLER,
    "note.txt": "A short note about nothing much.",
}
REPLIES = {  # passage keyword -> what the fake model says (yeast twice: a duplicate question)
    "Nile": json.dumps({"question": "Which way does the Nile flow?", "answer": "North."}),
    "yeast": json.dumps({"question": "Why does bread dough rise?", "answer": "Yeast gas."}),
    "Kepler": "Planets orbit the Sun.",  # not JSON, also on the retry: a counted failure
}


class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions in OpenAI's format; the reply depends on the passage."""

    prompts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        prompt = body["messages"][-1]["content"]
        type(self).prompts.append(prompt)
        passage = prompt.split("<passage>")[1]
        text = next(reply for word, reply in REPLIES.items() if word in passage)
        completion = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
        }
        data = json.dumps(completion).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read the recorded prompts instead."""


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[str]:
    """The base URL ("http://127.0.0.1:PORT/v1") of the fake, for the module's tests."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data dir with collection `kb` ingested from DOCS, and an empty collection `void`."""
    root = tmp_path_factory.mktemp("synth")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGLINE_DATA_DIR", str(root / ".ragline"))
        patch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))
        settings = load_settings()
        store = build_store(settings, "kb")
        try:
            with Accounting(settings) as costs:
                report = ingest_paths(settings, costs, store, [corpus])
            assert report.files_ingested == len(DOCS)
            assert store.count() == len(DOCS)
        finally:
            store.close()
        empty = build_store(settings, "void")
        empty.ensure_collection(CollectionSpec(dims=384))
        empty.close()
    return root / ".ragline"


@pytest.fixture
def run(data_dir: Path, fake_openai: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RAGLINE_LLM__OPENAI__BASE_URL", fake_openai)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["synthesize", *args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def counts(stdout: str) -> tuple[int, int, int, int]:
    """(asked, kept, dropped, failed) from the summary."""
    asked = re.search(r"about (\d+)\n", stdout)
    rest = re.search(r"kept (\d+), dropped (\d+) near-duplicate, failed (\d+)", stdout)
    assert asked and rest, stdout
    kept, dropped, failed = (int(g) for g in rest.groups())
    return int(asked.group(1)), kept, dropped, failed


def test_questions_are_written_counted_and_rerun_from_the_cache(
    run: Invoke, tmp_path: Path
) -> None:
    out = tmp_path / "golden.jsonl"
    FakeOpenAI.prompts.clear()
    code, stdout, stderr = run("--collection", "kb", "--out", str(out), "--model",
                               "openai:gpt-4o-mini", "--n", "10")  # fmt: skip
    assert code == 1, stdout + stderr  # written, but one chunk failed
    assert "read 5 chunks from kb; asked openai:gpt-4o-mini about 4" in stdout
    assert counts(stdout) == (4, 2, 1, 1)
    assert "failed 1 (unparseable 1)" in stdout
    assert "tokens 1000 in / 100 out" in stdout  # 5 calls: the bad chunk was asked twice
    assert f"wrote 2 items to {out}" in stdout
    assert "marked synthetic" in stdout and "before using it as a golden set" in stdout
    assert "unparseable: the reply is not valid JSON" in stderr
    assert len(FakeOpenAI.prompts) == 5
    assert all("short note" not in p for p in FakeOpenAI.prompts)
    assert (
        sum("could not be used: the reply is not valid JSON" in p for p in FakeOpenAI.prompts) == 1
    )

    golden = load_golden_jsonl(out)
    questions = {i.question: i for i in golden.items}
    assert set(questions) == {"Which way does the Nile flow?", "Why does bread dough rise?"}
    nile = questions["Which way does the Nile flow?"]
    assert nile.answers == ("North.",) and nile.sources == ("rivers.txt",)
    assert nile.synthetic and nile.tags == ("synthetic",)
    assert nile.metadata["generator"] == "openai:gpt-4o-mini"
    assert "The Nile flows north" in str(nile.metadata["passage"])
    assert [i.id for i in golden.items] == ["syn-1", "syn-2"]

    first = out.read_bytes()
    code, stdout, _ = run("--collection", "kb", "--out", str(out), "-m", "openai:gpt-4o-mini")
    assert code == 2 and out.read_bytes() == first  # not overwritten without --force

    FakeOpenAI.prompts.clear()
    code, stdout, _ = run("--collection", "kb", "--out", str(out), "-m", "openai:gpt-4o-mini",
                          "--force", "--workers", "3")  # fmt: skip
    assert code == 1 and out.read_bytes() == first  # same sample, same questions
    assert FakeOpenAI.prompts == []  # the router's exact cache answered every call
    assert "4 cached" in stdout and "$0.000000" in stdout


def test_usage_errors_exit_2_and_say_what_to_fix(run: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "g.jsonl"
    model = ("--model", "openai:gpt-4o-mini")
    code, _, stderr = run("--collection", "nope", "--out", str(out), *model)
    assert code == 2 and "'nope' does not exist" in stderr and "ragline ingest" in stderr
    code, _, stderr = run("--collection", "void", "--out", str(out), *model)
    assert code == 2 and "'void' is empty" in stderr
    code, _, stderr = run("--collection", "kb", "--out", str(tmp_path / "no" / "g.jsonl"), *model)
    assert code == 2 and "does not exist; create it first" in stderr
    code, _, stderr = run("--collection", "kb", "--out", str(tmp_path), *model)
    assert code == 2 and "is a folder" in stderr
    code, _, stderr = run("--collection", "kb", "--out", str(out))  # default llm: extractive
    assert code == 2 and "extractive provider cannot write questions" in stderr
    assert "--model" in stderr
    assert not out.exists()


@pytest.mark.slow
def test_a_real_small_model_through_llama_cpp(
    run: Invoke, tmp_path: Path, llama_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.llm_router.llama_server import MODEL_ALIAS

    monkeypatch.setenv("RAGLINE_LLM__VLLM__BASE_URL", llama_server_url)
    out = tmp_path / "golden.jsonl"
    model = f"vllm:{MODEL_ALIAS}"
    code, stdout, stderr = run("--collection", "kb", "--out", str(out), "-m", model, "--n", "2")
    asked, kept, dropped, failed = counts(stdout)
    assert asked == 2 and kept + dropped + failed == asked, stdout + stderr
    # every chunk reached the model and got a reply: bad JSON is fine, no reply is not
    assert re.search(r"failed \d+ \((none|unparseable \d+)\)", stdout), stdout + stderr
    tokens_in = re.search(r"tokens (\d+) in", stdout)
    assert tokens_in and int(tokens_in.group(1)) > 0, stdout
    assert code == (0 if kept and not failed else 1)
    if kept:
        items = load_golden_jsonl(out).items
        assert len(items) == kept and all(i.synthetic for i in items)
        assert all(i.metadata["generator"] == model for i in items)
    else:
        assert not out.exists() and "nothing kept" in stdout
