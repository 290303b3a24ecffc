"""The model registry on real MLflow stores (SQLite and PostgreSQL): a real LightGBM model moves
development -> staging -> production, each gate refuses a bad candidate with its reason, the audit
log only grows, rollback restores the previous production, and pickles are refused."""

from __future__ import annotations

import pickle
import shutil
import zipfile
from pathlib import Path

import pytest

from ragline.mltrack.errors import GateRefused, MltrackError, UnsafeModelFile
from ragline.mltrack.tracking.artifacts import PYFUNC_MODEL_DIR, Feature, ModelArtifact, check_safe
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.gates import (
    BEATS_PRODUCTION,
    DATA_QUALITY,
    EVAL_SUITE,
    GUARDRAILS,
    LEAKAGE,
    GateInputs,
    Guardrail,
    PrimaryMetric,
)
from ragline.mltrack.tracking.registry import STAGE_ORDER, ModelRegistry
from tests.mltrack.conftest import Backend

pytestmark = [
    pytest.mark.integration,
    # MLflow's SQLAlchemy models use a loader strategy SQLAlchemy 2.1 deprecates
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
]

PLAN = ExperimentPlan("tiny churn model", "sha256:0", "lightgbm", ("tenure", "spend"), actor="ana")
FIRST = GateInputs(PrimaryMetric("auc", candidate_ci=(0.80, 0.84)), (), 24, (), True)
# beats production 0.80 (v1) on every fold: differences 0.03..0.05
BETTER = GateInputs(
    PrimaryMetric("auc", (0.83, 0.84, 0.85, 0.85), (0.80, 0.80, 0.81, 0.80)),
    (Guardrail("recall", 0.71, 0.72, max_regression=0.02),),
    quality_score=22,
    leakage_findings=(),
    eval_suite_passed=True,
)
# each candidate fails exactly one gate; the text its refusal must quote
BAD: dict[str, tuple[GateInputs, str]] = {
    BEATS_PRODUCTION: (
        GateInputs(PrimaryMetric("auc", (0.80, 0.81, 0.79), (0.80, 0.80, 0.80)), (), 22, (), True),
        "needs the whole CI > 0",
    ),
    GUARDRAILS: (
        GateInputs(
            BETTER.primary, (Guardrail("recall", 0.60, 0.72, max_regression=0.02),), 22, (), True
        ),
        "recall 0.6 vs 0.72: regression 0.12 (allowed 0.02)",
    ),
    DATA_QUALITY: (
        GateInputs(BETTER.primary, (), 12, (), True),
        "score 12/30 is under the minimum 18",
    ),
    LEAKAGE: (
        GateInputs(BETTER.primary, (), 22, ("'refund_issued' predicts the target alone",), True),
        "1 leakage finding(s): 'refund_issued' predicts the target alone",
    ),
    EVAL_SUITE: (GateInputs(BETTER.primary, (), 22, (), False), "eval suite failed"),
}


def run_id(backend: Backend) -> str:
    """A finished experiment run to register models from."""
    tracker = Tracker(backend.config, backend.data_dir)
    with tracker.start_run(PLAN) as run:
        pass
    tracker.close()
    return run.run_id


def to_production(registry: ModelRegistry, name: str, version: int, inputs: GateInputs) -> None:
    registry.promote(name, version, "staging", inputs, actor="ana", command="promote staging")
    registry.promote(name, version, "production", inputs, actor="ana", command="promote prod")


def test_register_promote_and_load(backend: Backend, model_folder: Path) -> None:
    import lightgbm as lgb
    import numpy as np

    registry, name = ModelRegistry(backend.config, backend.data_dir), backend.model()
    rid = run_id(backend)
    v1 = registry.register(name, model_folder, run_id=rid, actor="ana", command="register")
    assert (v1.version, v1.stage, v1.format, v1.run_id) == (1, "development", "lightgbm-text", rid)
    assert v1.signature == (Feature("tenure", "float64"), Feature("spend", "float64"))
    decision = registry.promote(name, 1, "staging", FIRST, actor="ana", command="promote")
    assert decision.results[0].reason == "no production version yet: first promotion"
    assert registry.current(name, "development") is None  # it moved on
    registry.promote(name, 1, "production", FIRST, actor="ben", command="ship it")
    production = registry.current(name, "production")
    assert production is not None and production.version == 1
    assert registry.current(name, "staging") is None

    x = np.array([[0.2, 0.5], [0.9, 0.1]])
    expected = lgb.Booster(model_file=str(model_folder / "model.txt")).predict(x)
    loaded = registry.load(
        name, "production", lambda p: lgb.Booster(model_file=str(p / "model.txt"))
    )
    np.testing.assert_allclose(loaded.predict(x), expected)

    log = registry.history(name)
    assert [(e.action, e.version, e.from_stage, e.to_stage, e.actor) for e in log] == [
        ("register", 1, None, "development", "ana"),
        ("promote", 1, "development", "staging", "ana"),
        ("promote", 1, "staging", "production", "ben"),
    ]
    assert log[2].command == "ship it"
    assert "ok beats-production" in log[2].reason
    assert all(e.ts.tzinfo is not None for e in log)
    registry.close()


def test_each_gate_refuses_a_bad_candidate(backend: Backend, model_folder: Path) -> None:
    registry, name = ModelRegistry(backend.config, backend.data_dir), backend.model()
    rid = run_id(backend)
    registry.register(name, model_folder, run_id=rid, actor="ana")
    to_production(registry, name, 1, FIRST)
    registry.register(name, model_folder, run_id=rid, actor="ana")
    for gate, (inputs, reason) in BAD.items():
        with pytest.raises(GateRefused) as refused:
            registry.promote(name, 2, "staging", inputs, actor="cy", command=f"try {gate}")
        message = str(refused.value)
        assert f"refused by gate(s) {gate}:" in message, message
        assert reason in message, message
        last = registry.history(name)[-1]
        assert (last.action, last.version, last.to_stage, last.actor) == (
            "refuse",
            2,
            "staging",
            "cy",
        )
        assert last.reason.startswith(f"refused by {gate}\n") and reason in last.reason
    current = registry.current(name, "development")
    assert current is not None and current.version == 2  # no refusal moved anything
    assert registry.current(name, "staging") is None
    registry.promote(name, 2, "staging", BETTER, actor="cy")  # the good candidate goes through
    registry.close()


def test_stage_order_and_missing_production_evidence(
    sqlite_backend: Backend, model_folder: Path
) -> None:
    registry, name = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir), "churn"
    rid = run_id(sqlite_backend)
    registry.register(name, model_folder, run_id=rid, actor="ana")
    with pytest.raises(GateRefused, match=f"gate {STAGE_ORDER}: .*promote it to staging first"):
        registry.promote(name, 1, "production", FIRST, actor="ana")
    assert registry.history(name)[-1].reason.startswith(STAGE_ORDER)
    to_production(registry, name, 1, FIRST)
    with pytest.raises(GateRefused, match="already in production"):
        registry.promote(name, 1, "staging", FIRST, actor="ana")
    registry.register(name, model_folder, run_id=rid, actor="ana")
    # FIRST carries no production evidence, but version 1 is in production now
    with pytest.raises(GateRefused, match="a production version exists but no production auc"):
        registry.promote(name, 2, "staging", FIRST, actor="ana")
    with pytest.raises(MltrackError, match="has no version 9"):
        registry.promote(name, 9, "staging", FIRST, actor="ana")
    registry.close()


def test_force_overrides_gates_and_says_so(sqlite_backend: Backend, model_folder: Path) -> None:
    registry, name = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir), "churn"
    registry.register(name, model_folder, run_id=run_id(sqlite_backend), actor="ana")
    low_quality = BAD[DATA_QUALITY][0]
    decision = registry.promote(
        name, 1, "staging", low_quality, actor="ana", force=True, reason="hotfix, ticket 42"
    )
    assert not decision.passed
    assert registry.history(name)[-1].reason.startswith(
        "FORCED past data-quality; reason: hotfix, ticket 42\n"
    )
    assert registry.verify_audit(name).intact
    staging = registry.current(name, "staging")
    assert staging is not None and staging.version == 1
    registry.close()


def test_rollback_restores_the_previous_production(backend: Backend, model_folder: Path) -> None:
    registry, name = ModelRegistry(backend.config, backend.data_dir), backend.model()
    rid = run_id(backend)
    for version in (1, 2, 3):
        registry.register(name, model_folder, run_id=rid, actor="ana")
        to_production(registry, name, version, FIRST if version == 1 else BETTER)
    before = registry.history(name)

    restored = registry.rollback(name, actor="ops", command="rollback churn", reason="p95 alarm")
    assert (restored.version, restored.stage) == (2, "production")
    added = registry.history(name)[len(before) :]
    assert [(e.action, e.version, e.from_stage, e.to_stage) for e in added] == [
        ("archive", 3, "production", None),
        ("rollback", 2, None, "production"),
    ]
    assert added[1].reason == "rolled back from version 3: p95 alarm"
    assert added[1].actor == "ops" and added[1].command == "rollback churn"

    assert registry.rollback(name, actor="ops").version == 1  # one further back
    with pytest.raises(MltrackError, match="no earlier production version"):
        registry.rollback(name, actor="ops")
    production = registry.current(name, "production")
    assert production is not None and production.version == 1

    after = registry.history(name)
    assert after[: len(before)] == before  # append-only: earlier rows are untouched
    assert [e.id for e in after] == sorted({e.id for e in after})
    registry.close()


def test_rollback_archives_the_rolled_back_experiment(backend: Backend, model_folder: Path) -> None:
    """A version rolled back out of production no longer lists as ``promoted`` (issue 21)."""
    from ragline.mltrack.tracking.experiment_run import MetricValue

    registry, name = ModelRegistry(backend.config, backend.data_dir), backend.model()
    ids: list[str] = []
    with Tracker(backend.config, backend.data_dir) as tracker:
        for version in (1, 2):
            with tracker.start_run(PLAN) as run:
                run.finish("promoted", MetricValue("auc", 0.8 + version / 100))
            ids.append(run.exp_id)
            registry.register(name, model_folder, run_id=run.run_id, actor="ana")
            to_production(registry, name, version, FIRST if version == 1 else BETTER)
        registry.rollback(name, actor="ops", reason="p95 alarm")
        verdicts = [tracker.get(i).outcome for i in ids]
        listed = {r.id: r.outcome.verdict for r in tracker.list() if r.outcome}
    assert [o.verdict if o else None for o in verdicts] == ["promoted", "archived"]
    assert listed == {ids[0]: "promoted", ids[1]: "archived"}
    registry.close()


def test_archive_takes_a_version_out_of_its_stage(backend: Backend, model_folder: Path) -> None:
    registry, name = ModelRegistry(backend.config, backend.data_dir), backend.model()
    rid = run_id(backend)
    registry.register(name, model_folder, run_id=rid, actor="ana")
    to_production(registry, name, 1, FIRST)
    registry.register(name, model_folder, run_id=rid, actor="ana")
    archived = registry.archive(name, 2, actor="retrain", reason="refused by beats-production")
    assert archived.stage is None and registry.current(name, "development") is None
    last = registry.history(name)[-1]
    assert (last.action, last.version, last.from_stage, last.to_stage) == (
        "archive", 2, "development", None,
    )  # fmt: skip
    assert last.reason == "refused by beats-production" and last.actor == "retrain"
    with pytest.raises(MltrackError, match="rollback"):
        registry.archive(name, 1, actor="retrain", reason="no")
    assert registry.verify_audit(name).intact
    registry.close()


def test_pickles_are_refused_before_anything_is_stored(
    sqlite_backend: Backend, model_folder: Path, tmp_path: Path
) -> None:
    registry = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir)
    rid = run_id(sqlite_backend)
    by_suffix = shutil.copytree(model_folder, tmp_path / "a")
    (by_suffix / "preprocessor.joblib").write_bytes(b"not even a real joblib")
    with pytest.raises(UnsafeModelFile, match=r"preprocessor\.joblib \(\.joblib is a pickle"):
        registry.register("churn", by_suffix, run_id=rid, actor="ana")
    disguised = shutil.copytree(model_folder, tmp_path / "b")
    (disguised / "model.txt").write_bytes(pickle.dumps({"trees": 3}))
    with pytest.raises(UnsafeModelFile, match=r"model\.txt \(it holds a pickle stream"):
        registry.register("churn", disguised, run_id=rid, actor="ana")
    assert registry.history("churn") == ()
    assert registry.current("churn", "development") is None
    registry.close()


def test_check_safe_and_model_json(model_folder: Path, tmp_path: Path) -> None:
    check_safe(model_folder)
    artifact = ModelArtifact.read(model_folder)
    assert (artifact.format, artifact.target, artifact.classes) == (
        "lightgbm-text",
        "churned",
        (0, 1),
    )
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    # a torch checkpoint is a zip of pickles, whatever the outer file is called
    with zipfile.ZipFile(zipped / "weights.bin", "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x04N.")
    with pytest.raises(UnsafeModelFile, match=r"its zip holds pickles: archive/data\.pkl"):
        check_safe(zipped)
    broken = shutil.copytree(model_folder, tmp_path / "broken")
    (broken / "model.json").write_text('{"format": "pickle", "signature": {"features": []}}')
    with pytest.raises(UnsafeModelFile, match="save the model as one of lightgbm-text"):
        ModelArtifact.read(broken)
    (broken / "model.json").write_text("{}")
    with pytest.raises(MltrackError, match=r"a model folder needs model\.json"):
        ModelArtifact.read(broken)
    (broken / "model.json").write_text(
        '{"format": "onnx", "signature": {"features": [{"name": "x", "dtype": "float32"}]}}'
    )
    with pytest.raises(MltrackError, match=r"has no model\.onnx"):
        ModelArtifact.read(broken)
    (broken / "model.json").write_text(
        '{"format": "onnx", "file": "../x.onnx", "signature": {"features": []}}'
    )
    with pytest.raises(UnsafeModelFile, match="use a plain file name"):
        ModelArtifact.read(broken)


def test_a_pyfunc_package_is_the_version_source_and_load_gets_the_model_folder(
    backend: Backend, model_folder: Path, tmp_path: Path
) -> None:
    import lightgbm as lgb
    from mlflow.artifacts import download_artifacts

    package = tmp_path / "pyfunc"
    shutil.copytree(model_folder, package / PYFUNC_MODEL_DIR)
    (package / "MLmodel").write_text("flavors: {python_function: {}}\n")  # layout only
    registry, name = ModelRegistry(backend.config, backend.data_dir), backend.model()
    v1 = registry.register(name, package, run_id=run_id(backend), actor="ana", command="reg")
    assert (v1.pyfunc, v1.format, v1.signature[0]) == (
        True,
        "lightgbm-text",
        Feature("tenure", "float64"),
    )

    # the version's source is the whole package: what mlflow.pyfunc.load_model downloads
    source = Path(download_artifacts(v1.source, dst_path=str(tmp_path / "dl")))
    assert (source / "MLmodel").is_file() and (source / PYFUNC_MODEL_DIR / "model.txt").is_file()
    # ragline's loader still gets the model folder itself
    booster = registry.load_version(name, 1, lambda p: lgb.Booster(model_file=str(p / "model.txt")))
    assert booster.feature_name() == ["tenure", "spend"]
    plain = registry.register(name, model_folder, run_id=run_id(backend), actor="ana")
    assert not plain.pyfunc

    hollow = tmp_path / "hollow"
    hollow.mkdir()
    (hollow / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(MltrackError, match="without a ragline model in artifacts/model/"):
        registry.register(name, hollow, run_id=run_id(backend), actor="ana")
    (hollow / "python_model.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(UnsafeModelFile, match=r"python_model\.pkl"):
        registry.register(name, hollow, run_id=run_id(backend), actor="ana")
    assert [v.version for v in registry.versions(name)] == [2, 1]
    registry.close()
