"""ML pipelines as code: the orchestration behind `ragline pipeline run|approve|workflow`.

    service = PipelineService(settings, on_stage=print)
    record = service.run(Path("configs/pipelines/adult.yaml"), "code")   # -> awaiting approval
    service.approve(record.id, by="ana")                                  # canary, promote

`runner` runs the stages in order and records them; `checks` holds the stages up to the
staging promotion, `release` the load test, canary and production promotion, and `traffic`
the requests they send through the real app. The pure parts (config schema, stage order,
run records, the data trigger's hash, the CI workflow) are `ragline.mltrack.pipeline`.
"""

from ragline.serving.services.pipeline.runner import PipelineService, training_config

__all__ = ["PipelineService", "training_config"]
