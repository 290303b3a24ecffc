"""The generated GitHub Actions workflow: valid YAML with the triggers and steps, and the
example under examples/ is exactly its output for the Adult pipeline."""

from __future__ import annotations

import pytest
import yaml

from ragline.mltrack.pipeline.config import load_pipeline_config
from ragline.mltrack.pipeline.workflow import github_workflow
from ragline.mltrack.tabular.config import load_train_config
from tests.paths import REPO

pytestmark = pytest.mark.unit

ARG = "configs/pipelines/adult.yaml"


def _generated() -> str:
    config = load_pipeline_config(REPO / ARG)
    return github_workflow(ARG, config, load_train_config(config.train), root=REPO)


def test_the_example_is_the_generated_workflow() -> None:
    example = REPO / "examples" / "github-actions" / "ml-pipeline.yml"
    assert example.read_text() == _generated(), (
        "regenerate: ragline pipeline workflow configs/pipelines/adult.yaml "
        "> examples/github-actions/ml-pipeline.yml"
    )


def test_it_parses_and_runs_the_pipeline_on_change_nightly_and_by_hand() -> None:
    doc = yaml.safe_load(_generated())
    on = doc[True]  # YAML 1.1 reads the bare key `on` as true; GitHub reads it as "on"
    assert set(on) == {"push", "schedule", "workflow_dispatch"}
    assert on["push"]["paths"][:4] == [
        "src/**", ARG, "configs/ml/adult.yaml", ".ragline/datasets/adult.csv",
    ]  # fmt: skip
    assert on["schedule"] == [{"cron": "17 3 * * *"}]
    assert on["workflow_dispatch"]["inputs"]["trigger"]["options"] == [
        "schedule", "code", "data", "model",
    ]  # fmt: skip
    steps = doc["jobs"]["pipeline"]["steps"]
    assert steps[0] == {"uses": "actions/checkout@v4"}
    assert steps[1]["uses"] == "actions/setup-python@v5" and steps[2]["run"] == "make setup"
    run = next(s for s in steps if s.get("name") == "Pipeline")
    assert run["run"] == f'.venv/bin/ragline pipeline run {ARG} --trigger "$TRIGGER"'
    assert "'schedule' && 'data'" in run["env"]["TRIGGER"]
    approve = next(s for s in steps if s.get("name", "").startswith("Approve"))
    assert approve["env"] == {"RUN_ID": "${{ inputs.approve }}"}  # never pasted into the shell
