"""`ragline eval` end to end (in-process): a tiny BEIR set, the real MiniLM model and Edge store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.evals.report import from_json
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str]]

DOCS = {
    "bread": "Bread dough rises because yeast ferments sugar and releases carbon dioxide gas.",
    "orbit": "Planets follow elliptical orbits around the sun, as Kepler's first law states.",
    "volcano": "Volcanoes erupt when molten magma rises through cracks in the earth's crust.",
    "piano": "A piano makes sound when felt hammers strike its tuned steel strings.",
    "tides": "Ocean tides are caused mostly by the gravitational pull of the moon.",
    "rust": "Iron rusts when it reacts with oxygen and water to form iron oxide.",
    "bees": "Honey bees communicate the direction of flowers with a waggle dance.",
    "glacier": "Glaciers carve U-shaped valleys as the moving ice grinds the bedrock.",
}
QUERIES = {
    "q1": ("why does bread dough rise with yeast", "bread"),
    "q2": ("what causes ocean tides and the moon's pull", "tides"),
    "q3": ("how do honey bees tell each other where flowers are", "bees"),
    "q4": ("why does iron rust in water", "rust"),
    # judged against a document it has nothing to do with, so MAP cannot reach 1
    "q5": ("how do planets orbit the sun", "piano"),
}


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as f:
        for doc_id, text in DOCS.items():
            f.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as f:
        for qid, (text, _) in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text, "kind": "odd" if qid == "q5" else "ok"}))
            f.write("\n")
    rows = "".join(f"{qid}\t{doc}\t1\n" for qid, (_, doc) in QUERIES.items())
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return folder


def write_suite(path: Path, gates: str, system: str = "{retrieval: {mode: hybrid}}") -> Path:
    path.write_text(
        "name: tiny\n"
        "dataset: {kind: beir, path: data/tiny}\n"
        f"system: {system}\n"
        "ks: [1, 3]\n"
        "metrics: [ndcg@3, recall@3, mrr, map]\n"
        "slice_by: [kind]\n"
        "bootstrap: {resamples: 200, seed: 0}\n"
        f"gates: {gates}\n"
    )
    return path


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    write_beir(tmp_path / "suites" / "data" / "tiny")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def test_passing_then_failing_gate_and_identical_reruns(run: Invoke, tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    passing = write_suite(suites / "pass.yaml", "[{metric: recall@3, min: 0.6}]")
    code, output = run("eval", str(passing), "--out", str(tmp_path / "r1"))
    assert code == 0, output
    assert "gate recall@3: PASS" in output and "report.md" in output
    first = from_json((tmp_path / "r1" / "report.json").read_text())
    assert first.dataset["documents"] == 8 and first.dataset["queries"] == 5
    assert first.aggregate("mrr").value is not None
    assert first.per_query["recall@3"][:4] == (1.0, 1.0, 1.0, 1.0)  # the four fair queries
    assert any(s.group == "odd" for s in first.slices)
    text = (tmp_path / "r1" / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert "## Gates" in (tmp_path / "r1" / "report.md").read_text()
    assert set(first.plots) == {"pr_curve.png", "calibration.png", "slices_kind_ndcg_3.png"}
    for name in first.plots:
        assert (tmp_path / "r1" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the run is one cost scope: its corpus ingest and its queries are in the ledger under it
    with Ledger(LedgerConfig(), tmp_path / ".ragline") as ledger:
        kinds = {e.kind for e in ledger.events() if e.request_id == f"eval-{first.run_id}"}
    assert kinds == {"embedding", "vector_db"}

    # same suite again: the corpus is unchanged (skipped), the numbers identical
    code, output = run("eval", str(passing), "--out", str(tmp_path / "r2"))
    assert code == 0, output
    second = from_json((tmp_path / "r2" / "report.json").read_text())
    assert second.aggregates == first.aggregates and second.per_query == first.per_query

    failing = write_suite(suites / "fail.yaml", "[{metric: map, min: 0.999}]")
    code, output = run("eval", str(failing), "--baseline", str(tmp_path / "r1"))
    assert code == 1, output
    assert "gate map: FAIL: map = " in output and "below min 0.999" in output
    runs = [p for p in (tmp_path / ".ragline" / "eval_runs").iterdir() if p.is_dir()]
    assert len(runs) == 1 and runs[0].name.startswith("tiny-")
    listed = (tmp_path / ".ragline" / "eval_runs" / "runs.jsonl").read_text().splitlines()
    assert len(listed) == 3  # every run is listed, --out folders too
    last = json.loads(listed[-1])
    assert last["run_id"] == runs[0].name and last["passed"] is False
    assert last["experiment"].startswith("EXP-") and f"experiment {last['experiment']}" in output
    assert last["metrics"]["map"] == compared_map(runs[0])
    report = (runs[0] / "report.md").read_text()
    assert "## Against baseline" in report and "| map | " in report
    compared = from_json((runs[0] / "report.json").read_text())
    assert compared.baseline_run == first.run_id
    assert {c.metric: c.delta for c in compared.comparisons}["map"] == 0.0


def compared_map(folder: Path) -> float | None:
    return from_json((folder / "report.json").read_text()).aggregate("map").value


def test_bad_suite_and_bad_overrides_exit_two(run: Invoke, tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    gate_typo = write_suite(suites / "typo.yaml", "[{metric: ndcg@10, min: 0.5}]")
    code, output = run("eval", str(gate_typo))
    assert code == 2 and "gates.0.metric" in output and "ndcg@10" in output

    bad = write_suite(suites / "bad.yaml", "[]", system="{retrieval: {mode: psychic}}")
    code, output = run("eval", str(bad))
    assert code == 2 and "system.retrieval.mode" in output
    assert not (tmp_path / ".ragline" / "eval_runs").exists()

    code, output = run("eval", str(suites / "missing.yaml"))
    assert code == 2 and "cannot read the suite file" in output
