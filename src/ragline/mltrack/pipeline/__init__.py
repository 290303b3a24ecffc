"""ML pipelines as code: the pure parts of ``ragline pipeline run|approve|workflow``.

    config = load_pipeline_config(Path("configs/pipelines/adult.yaml"))
    record = RunRecord.start(config.pipeline_name, "configs/pipelines/adult.yaml", "data", sha)
    RunStore(Path(".ragline")).save(record)

`config` (the YAML schema), `record` (stages, their order, a run's record), `store` (records
on disk, the data trigger's hash) and `workflow` (the GitHub Actions file) are here; the
orchestration that trains, serves and canaries a candidate lives in
`ragline.serving.services.pipeline`, which may use the serving layer.
"""

from ragline.mltrack.pipeline.config import (
    PipelineConfig,
    PipelineConfigError,
    load_pipeline_config,
)
from ragline.mltrack.pipeline.record import STAGES, Approval, RunRecord, StageResult
from ragline.mltrack.pipeline.store import RunStore, data_changed, dataset_sha256

__all__ = [
    "STAGES",
    "Approval",
    "PipelineConfig",
    "PipelineConfigError",
    "RunRecord",
    "RunStore",
    "StageResult",
    "data_changed",
    "dataset_sha256",
    "load_pipeline_config",
]
