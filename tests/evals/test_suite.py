"""Suite files: parsing, config errors with key paths, and gates (unmeasured fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.evals.result import Aggregate
from ragline.evals.stats import mean, median, p95
from ragline.evals.suite import (
    Gate,
    SuiteConfig,
    SuiteError,
    evaluate_gates,
    known_metrics,
    load_suite,
    statistic_of,
)

pytestmark = pytest.mark.unit


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_load_suite_resolves_the_dataset_next_to_the_file(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path / "s.yaml",
            "name: demo\ndataset: {path: ../data/set}\nsystem: {retrieval: {mode: dense}}\n"
            "gates: [{metric: ndcg@10, min: 0.8}]\n",
        )
    )
    assert suite.dataset.path == (tmp_path.parent / "data" / "set").resolve()
    assert suite.collection_name == "eval-demo" and suite.depth == 100
    assert suite.system == {"retrieval": {"mode": "dense"}}
    assert suite.metrics == ("ndcg@10", "recall@10", "mrr@10", "map")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("gates: [{metric: hit@5, min: 1}]", "gates.0.metric: 'hit@5' is not computed"),
        ("metrics: [ndcg@5]", "metrics.0: 'ndcg@5' needs cut-off 5; add 5 to ks"),
        ("metrics: [bleu]", "unknown metric 'bleu'"),
        ("gates: [{metric: map}]", "gates.0: gate on 'map' has no bound"),
        ("gates: [{metric: map, min: 0.9, max: 0.1}]", "min 0.9 is above max 0.1"),
        ("colection: x", "colection: unknown key"),
        ("ks: [0]", "ks: give one or more positive cut-offs"),
        ("bootstrap: {resamples: 0}", "bootstrap.resamples"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path / "s.yaml", f"name: demo\ndataset: {{path: x}}\n{body}\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


def test_unreadable_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="cannot read the suite file"):
        load_suite(tmp_path / "nope.yaml")
    with pytest.raises(SuiteError, match="YAML mapping"):
        load_suite(write(tmp_path / "list.yaml", "- a\n"))
    with pytest.raises(SuiteError, match="name: use letters"):
        load_suite(write(tmp_path / "n.yaml", "name: a/b\ndataset: {path: x}\n"))


def test_known_metrics_follow_the_cut_offs() -> None:
    assert known_metrics((1, 3)) >= {"map", "mrr", "hit@1", "ndcg@3", "precision@3"}
    assert "ndcg@10" not in known_metrics((1, 3))


def test_gates_pass_fail_and_never_pass_unmeasured() -> None:
    aggregates = {
        "ndcg@10": Aggregate("ndcg@10", 0.9, 10, 0),
        "map": Aggregate("map", 0.5, 10, 0),
        "recall@10": Aggregate("recall@10", None, 0, 10),
    }
    gates = [
        Gate(metric="ndcg@10", min=0.85),
        Gate(metric="map", min=0.6),
        Gate(metric="ndcg@10", max=0.8),
        Gate(metric="recall@10", min=0.0),
        Gate(metric="mrr@10", min=0.0),
        Gate(metric="map", min=0.5, max=0.5),  # bounds are inclusive
    ]
    results = evaluate_gates(aggregates, gates)
    assert [r.passed for r in results] == [True, False, False, False, False, True]
    assert results[0].reason == ""
    assert results[1].reason == "map = 0.5000 is below min 0.6"
    assert results[2].reason == "ndcg@10 = 0.9000 is above max 0.8"
    assert "could not be measured on any item" in results[3].reason and results[3].value is None
    assert results[4].reason == "mrr@10 was not computed in this run"


def test_suite_config_is_frozen() -> None:
    suite = SuiteConfig.model_validate({"name": "d", "dataset": {"path": "x"}, "ks": [10, 1, 10]})
    assert suite.ks == (1, 10)
    with pytest.raises(ValueError):
        suite.name = "other"  # type: ignore[misc]


JUDGED = "name: qa\ndataset: {kind: golden, path: g.jsonl, corpus: docs}\nmetrics: [faithfulness]\n"


def test_the_judge_prompt_version_must_exist(tmp_path: Path) -> None:
    assert load_suite(write(tmp_path / "ok.yaml", JUDGED + "judge: {model: 'x:y'}\n")).judge_prompts
    path = write(tmp_path / "s.yaml", JUDGED + "judge: {model: 'x:y', prompt_version: 4}\n")
    missing = r"judge.prompt_version: no version 4 of prompt template 'judge-faithfulness' "
    with pytest.raises(SuiteError, match=missing + r".*pick one of judge-faithfulness@1"):
        load_suite(path)
    ragas = write(tmp_path / "r.yaml", JUDGED + "judge: {via: ragas, prompt_version: 4}\n")
    assert load_suite(ragas).judge_prompts == ()  # ragas brings its own prompts


def golden(**extra: object) -> SuiteConfig:
    data = {"name": "g", "dataset": {"kind": "golden", "path": "g.jsonl", "corpus": "c"}}
    return SuiteConfig.model_validate({**data, "metrics": ["token_f1"], **extra})


def test_golden_suites_measure_latency_and_cost_and_gate_p95_at_three_seconds() -> None:
    suite = golden()
    assert suite.measured_metrics == ("token_f1", "latency_p50", "latency_p95", "cost_per_query")
    assert [(g.metric, g.min, g.max) for g in suite.all_gates] == [("latency_p95", None, 3.0)]
    beir = SuiteConfig.model_validate({"name": "b", "dataset": {"path": "x"}})
    assert beir.measured_metrics == beir.metrics and beir.all_gates == ()


def test_limits_set_the_bounds_and_a_listed_gate_wins() -> None:
    suite = golden(limits={"latency_p95_s": 30.0, "cost_per_query_usd": 0.002})
    assert [(g.metric, g.max) for g in suite.all_gates] == [
        ("latency_p95", 30.0),
        ("cost_per_query", 0.002),
    ]
    mine = golden(gates=[{"metric": "latency_p95", "max": 1.5}])  # not in metrics: measured
    assert [(g.metric, g.max) for g in mine.all_gates] == [("latency_p95", 1.5)]
    assert golden(limits={"latency_p95_s": None}).all_gates == ()
    with pytest.raises(ValueError, match="latency_p95_s"):
        golden(limits={"latency_p95_s": 0})


def test_latency_is_a_percentile_and_needs_a_golden_suite() -> None:
    assert statistic_of("latency_p95") is p95 and statistic_of("latency_p50") is median
    assert statistic_of("cost_per_query") is mean and statistic_of("ndcg@10") is mean
    with pytest.raises(ValueError, match="needs a golden dataset"):
        SuiteConfig.model_validate(
            {"name": "b", "dataset": {"path": "x"}, "metrics": ["latency_p95"]}
        )
