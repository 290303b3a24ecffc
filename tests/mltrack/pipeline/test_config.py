"""Pipeline configs: paths resolve next to the file, unknown keys and bad values fail with
the key path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.mltrack.pipeline.config import PipelineConfigError, load_pipeline_config
from tests.paths import CONFIGS

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipes" / "p.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_paths_resolve_next_to_the_file_and_the_name_defaults_to_the_stem(tmp_path: Path) -> None:
    path = _write(tmp_path, "train: ../ml/t.yaml\ngolden: {path: g.csv, sample: 100}\n")
    config = load_pipeline_config(path)
    assert config.train == (tmp_path / "ml" / "t.yaml").resolve()
    assert config.golden is not None and config.golden.path == (path.parent / "g.csv").resolve()
    assert config.pipeline_name == "p"
    assert config.approval.required and config.fairness is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train: t.yaml\nload_tset: {}\n", "load_tset: Extra inputs are not permitted"),
        ("train: t.yaml\nload_test: {requests: 0}\n", "load_test.requests:"),
        ("train: t.yaml\napproval: {required: true, by: ana}\n", "approval.by:"),
        ("train: t.yaml\nfairness: {min_disparate_impact: 2}\n", "fairness.min_disparate_impact:"),
        ("train: t.yaml\nname: 'has space'\n", "name:"),
        ("load_test: {}\n", "train: Field required"),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(PipelineConfigError, match="invalid pipeline config") as caught:
        load_pipeline_config(_write(tmp_path, text))
    assert expected in str(caught.value)


def test_missing_file_and_non_mapping_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PipelineConfigError, match="no such file; check the path"):
        load_pipeline_config(tmp_path / "absent.yaml")
    with pytest.raises(PipelineConfigError, match="expected a mapping with train:"):
        load_pipeline_config(_write(tmp_path, "- a list\n"))


@pytest.mark.parametrize("name", ["adult.yaml", "adult-unfair.yaml"])
def test_shipped_pipelines_load_and_point_at_training_configs(name: str) -> None:
    config = load_pipeline_config(CONFIGS / "pipelines" / name)
    assert config.train.is_file()
    assert config.fairness is not None and config.fairness.protected == ["sex"]
    assert config.approval.required
