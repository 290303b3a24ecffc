"""The typed pipeline configuration behind ``ragline pipeline run CONFIG.yaml``.

    config = load_pipeline_config(Path("configs/pipelines/adult.yaml"))
    config.train            # the training config it runs (resolved next to the YAML file)
    config.load_test.max_p99_ms, config.approval.required

A pipeline names one training config (``train: ../ml/adult.yaml``) and what its candidate must
pass on the way to production. Sections it declares override the training config's own:
``fairness`` (the protected attributes and limits the fairness gate enforces, recorded with the
evidence at training time) and ``golden`` (the shared golden rows every candidate is scored on;
they also become the training config's ``golden``, so the beats-production gate compares
candidate and production on the same rows). Every section forbids unknown keys, and
`load_pipeline_config` turns validation errors into one `PipelineConfigError` whose lines start
with the key path, as `ragline.mltrack.tabular.config` does for training configs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.tabular.config import FairnessSpec
from ragline.mltrack.yaml_file import explain, read_mapping

__all__ = [
    "ApprovalSpec",
    "CanarySpec",
    "GoldenSpec",
    "LoadTestSpec",
    "PipelineConfig",
    "PipelineConfigError",
    "load_pipeline_config",
]


class PipelineConfigError(MltrackError, ValueError):
    """A pipeline config that cannot be used; each line names a key path and the fix.

    Example:
        >>> load_pipeline_config(Path("p.yaml"))  # doctest: +SKIP
        PipelineConfigError: p.yaml: invalid pipeline config:
        load_test.requests: Input should be greater than or equal to 1
    """


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GoldenSpec(_Section):
    """The shared golden rows: a labelled table every candidate of this pipeline is scored on.

    When ``path`` does not exist and ``sample`` is set, the first run writes a seeded sample of
    the training data there and every later run reads that same file (its SHA-256 is in each
    run record), so successive candidates meet the same yardstick.

    Example:
        >>> GoldenSpec(path=Path("golden.csv"), sample=2000).seed
        0
    """

    path: Path
    sample: int | None = Field(None, ge=10, description="rows to freeze from the training data")
    seed: int = 0
    resamples: int = Field(
        200, ge=10, description="bootstrap resamples of the CI (the gate is min_primary)"
    )
    min_primary: float | None = Field(
        None, description="the candidate's primary metric on these rows must reach this"
    )


class LoadTestSpec(_Section):
    """A bounded load test of the real predict path; the gate is p99 and zero errors.

    Example:
        >>> LoadTestSpec().requests, LoadTestSpec().max_p99_ms
        (200, 250.0)
    """

    requests: int = Field(200, ge=1, description="requests of `batch` rows each")
    rps: float | None = Field(None, gt=0, description="target rate; null: as fast as it answers")
    users: int = Field(50, ge=1, description="sticky user ids the requests cycle through")
    batch: int = Field(1, ge=1, le=10_000, description="rows per request")
    max_p99_ms: float = Field(250.0, gt=0, description="the gate: p99 latency at most this")


class ApprovalSpec(_Section):
    """Whether a person must approve before the candidate meets production traffic.

    Example:
        >>> ApprovalSpec().required
        True
    """

    required: bool = True


class CanarySpec(_Section):
    """How the canary is driven after approval: rounds of predict load until the rollout ends.

    Example:
        >>> CanarySpec().max_rounds
        20
    """

    requests_per_round: int = Field(100, ge=1)
    max_rounds: int = Field(20, ge=1, description="then the rollout is aborted, not promoted")
    users: int = Field(50, ge=1)


class PipelineConfig(_Section):
    """One pipeline; `load_pipeline_config` reads it from YAML and resolves its paths.

    Example:
        >>> c = PipelineConfig.model_validate({"train": "../ml/adult.yaml"})
        >>> c.approval.required, c.golden is None
        (True, True)
    """

    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="null: the file's stem"
    )
    train: Path = Field(description="training config (relative to this file)")
    fairness: FairnessSpec | None = Field(None, description="overrides the training config's")
    golden: GoldenSpec | None = Field(None, description="null: the training config's golden")
    load_test: LoadTestSpec = Field(default_factory=LoadTestSpec)
    approval: ApprovalSpec = Field(default_factory=ApprovalSpec)
    canary: CanarySpec = Field(default_factory=CanarySpec)

    @property
    def pipeline_name(self) -> str:
        """`name`, or the training config file's stem when none was given."""
        return self.name or self.train.stem


def load_pipeline_config(path: Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file; relative paths resolve next to it; the name
    defaults to the file's stem.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "p.yaml"
        >>> _ = f.write_text("train: t.yaml\\n")
        >>> c = load_pipeline_config(f)
        >>> c.pipeline_name, c.train == (f.parent / "t.yaml").resolve()
        ('p', True)
    """
    raw = read_mapping(
        path, PipelineConfigError, "check the path", "train:, fairness:, load_test:, ..."
    )
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise PipelineConfigError(f"{path}: invalid pipeline config:\n{explain(exc)}") from exc
    here = path.parent.resolve()
    train = (here / config.train).resolve()
    update: dict[str, object] = {"train": train, "name": config.name or path.stem}
    if config.golden is not None:
        golden = config.golden.model_copy(update={"path": (here / config.golden.path).resolve()})
        update["golden"] = golden
    return config.model_copy(update=update)
