"""ragline.mltrack.method.deploy_plan: the decision tree as a pure function (every branch and both
edges of each threshold), and measurement of a real LightGBM model trained on UCI Adult, from its
folder and from the MLflow registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.errors import DataError
from ragline.mltrack.method.deploy_plan import (
    LATENCY_MS,
    SIZE_BYTES,
    Family,
    Measurement,
    Needs,
    decide,
    folder_bytes,
    measure_folder,
    plan_document,
    plan_yaml,
    workers_needed,
)
from ragline.mltrack.tabular.config import TrainConfig, load_train_config
from ragline.mltrack.tabular.train import train
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.registry import ModelRegistry
from tests.mltrack.adult_config import adult_config
from tests.mltrack.conftest import Backend

pytestmark = pytest.mark.unit
MB = 1_000_000


def measured(p95_ms: float = 1.0, size: int = 2 * MB, family: Family = "tabular") -> Measurement:
    fmt = "gguf" if family == "llm" else "lightgbm-text"
    return Measurement(
        "m:1", family, fmt, size, p95_ms / 2, p95_ms, p95_ms * 1.5, 20_000.0,
        features=("age", "hours"), task="classification",
    )  # fmt: skip


def test_a_batch_consumer_gets_a_batch_job_whatever_the_latency() -> None:
    for p95 in (1.0, 5000.0):
        plan = decide(measured(p95), Needs(batch=True))
        assert (plan.target, len(plan.path)) == ("batch_job", 1)
        assert "20,000 rows/s" in plan.why


def test_a_prediction_slower_than_the_budget_goes_to_an_async_queue() -> None:
    plan = decide(measured(p95_ms=LATENCY_MS), Needs())  # equal is not faster
    assert plan.target == "async_queue"
    assert [s.answer for s in plan.path] == [False, False]
    assert str(plan.path[1]) == "p95 < 100 ms? no (p95 100.00 ms, p99 150.00 ms)"
    assert decide(measured(p95_ms=40), Needs(latency_ms=20)).target == "async_queue"
    assert decide(measured(p95_ms=99.9), Needs()).target == "embedded"


def test_fast_and_small_is_embedded_fast_and_large_needs_a_model_server() -> None:
    small = decide(measured(size=SIZE_BYTES - 1), Needs())
    assert (small.target, small.server) == ("embedded", None)
    assert [str(s) for s in small.path][2] == "size < 500 MB? yes (500.00 MB)"
    large = decide(measured(size=SIZE_BYTES), Needs())
    assert (large.target, large.server) == ("model_server", "triton")
    llm = decide(measured(size=4_000 * MB, family="llm"), Needs())
    assert (llm.target, llm.server) == ("model_server", "vllm")


def test_workers_serve_the_expected_rate_and_stop_at_the_cpus() -> None:
    m = measured(p95_ms=4.0)  # p50 2 ms: a half-busy worker serves 250 requests/s
    assert workers_needed(m, Needs()) == 1
    assert workers_needed(m, Needs(rps=250)) == 1 and workers_needed(m, Needs(rps=251)) == 2
    assert decide(m, Needs(rps=1000), cpus=8).workers == 4
    capped = decide(m, Needs(rps=5000), cpus=8)
    assert capped.workers == 8 and "20 workers needed" in capped.why
    assert "run 3 replicas" in capped.why


def test_plans_for_the_other_targets_are_plain_yaml() -> None:
    m = measured()
    batch = yaml.safe_load(plan_yaml(decide(m, Needs(batch=True)), m, Needs(batch=True), "inc"))
    assert batch["deploy"]["target"] == "batch_job"
    assert batch["batch_job"]["chunk_rows"] == 200_000  # ~10 s of work at 20,000 rows/s
    assert batch["batch_job"]["model"] == "inc@production"
    slow = measured(p95_ms=400)
    queue = plan_document(decide(slow, Needs(rps=10)), slow, Needs(rps=10), "inc")
    assert queue["async_queue"]["workers"] == 4  # type: ignore[index]  # p50 200 ms: 2.5 req/s each
    big = measured(size=SIZE_BYTES * 2)
    triton = plan_document(decide(big, Needs()), big, Needs(), "inc")["model_server"]
    assert isinstance(triton, dict)
    pbtxt = triton["repository"]["inc/config.pbtxt"]
    assert 'backend: "fil"' in pbtxt and 'string_value: "lightgbm"' in pbtxt
    assert "dims: [ 2 ]" in pbtxt and triton["inputs"] == ["age", "hours"]


@pytest.fixture(scope="module")
def adult_rows() -> pd.DataFrame:
    return load_adult().sample(n=3000, random_state=0)


@pytest.fixture(scope="module")
def adult_model(adult_rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LightGBM model on 3,000 Adult rows (pipeline: numeric + one-hot), saved."""
    folder = tmp_path_factory.mktemp("adult")
    adult_rows.to_csv(folder / "adult.csv", index=False)
    (folder / "c.yaml").write_text(adult_config(folder / "adult.csv", "{hypothesis: t}"))
    config: TrainConfig = load_train_config(folder / "c.yaml")
    return train(config, None, folder / "run").artifact_dir


@pytest.mark.integration
def test_measures_the_real_adult_model_on_real_rows(
    adult_model: Path, adult_rows: pd.DataFrame
) -> None:
    m = measure_folder(adult_model, adult_rows, label="adult", repeats=50, batch_rows=2000)
    assert m.size_bytes == folder_bytes(adult_model) > 1000
    assert m.format == "lightgbm-text" and m.task == "classification"
    assert 0 < m.p50_ms <= m.p95_ms <= m.p99_ms < 1000
    assert m.rows_per_s > 1000 and (m.single_samples, m.batch_rows) == (50, 2000)
    assert decide(m, Needs()).target == "embedded"
    assert decide(m, Needs(latency_ms=m.p95_ms / 2)).target == "async_queue"


@pytest.mark.integration
def test_rows_built_from_the_pipeline_stand_in_for_data(adult_model: Path) -> None:
    m = measure_folder(adult_model, None, repeats=20, batch_rows=500)
    assert m.p50_ms > 0 and m.rows_per_s > 0 and m.label == str(adult_model)
    with pytest.raises(DataError, match=r"lack \['age'"):
        measure_folder(adult_model, pd.DataFrame({"x": [1.0]}), repeats=10)


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mlflow's SQLAlchemy use
def test_measures_a_registered_version(sqlite_backend: Backend, adult_model: Path) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(ExperimentPlan("deploy", "sha256:0", "lightgbm")) as run:
        pass
    tracker.close()
    registry = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir)
    name = sqlite_backend.model("adult")
    v = registry.register(name, adult_model, run_id=run.run_id, actor="ana", command="t")
    m = registry.load_version(
        name, v.version, lambda f: measure_folder(f, None, label=f"{name}:1", repeats=20)
    )
    registry.close()
    assert m.label == f"{name}:1" and m.size_bytes == folder_bytes(adult_model)
