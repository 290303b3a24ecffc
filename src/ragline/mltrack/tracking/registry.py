"""Model registry on MLflow: versions move development -> staging -> production behind gates.

    registry = ModelRegistry(MltrackConfig(), Path(".ragline"))
    v = registry.register("churn", Path("out/model"), run_id=run.run_id, actor="ana")
    registry.promote("churn", v.version, "staging", inputs, actor="ana")      # gates checked
    registry.promote("churn", v.version, "production", inputs, actor="ana")   # GateRefused names
    registry.rollback("churn", actor="ben")           # the previous production, in one step
    registry.archive("churn", 4, actor="retrain", reason="refused by beats-production")
    registry.verify_audit().intact                    # False names the first edited row
    model = registry.load("churn", "production", ragline.mltrack.tabular.artifacts.load_model)

Stages are MLflow aliases (``development``, ``staging``, ``production``): an alias points at one
version; a version's stage is the furthest alias it holds, and a version that lost its alias has
no stage (archived). `register` gives the new version ``development``; `promote` moves a version
one stage on (a version reaches production only from staging) when every gate of
`ragline.mltrack.tracking.gates.check_gates` passes, or when ``force=True`` (recorded as forced,
with the ``reason`` given, in the promote row's ``why``).

The audit log (``ragline_registry_audit``, `ragline.mltrack.tracking.audit`) is append-only:
the database refuses UPDATE and DELETE (triggers on SQLite and PostgreSQL) and each row is
hash-chained to the one before it, so `verify_audit` finds an edit made around the triggers.
Every alias move adds a row for the version that arrives (register, promote, rollback) and one
for the version it displaces or `archive` retires; every refusal adds a ``refuse`` row naming
the failed gates. Replaying the log gives the production history, so `rollback` restores the
version that was in production before the current one (rolling back again goes one further
back) and marks the rolled-back version's experiment ``archived``. The alias moves happen first
and the rows are appended after, in one transaction.

A registered folder may be an MLflow pyfunc package (``MLmodel`` at its top, the model folder in
``artifacts/model``; `ragline ml train` registers every model this way, see
`ragline.mltrack.tabular.pyfunc`): the version's source is then the package, so
``mlflow.pyfunc.load_model("models:/NAME@production")`` and ``mlflow models serve`` load the
version the ``production`` alias points at, while `load` still hands `load_fn` the model folder.
The aliases stay the registry's (and so ragline's) record of stages.

Model files are never unpickled: a folder is checked by
`ragline.mltrack.tracking.artifacts.check_safe` before it is registered and after it is downloaded;
loading a format is the caller's `load_fn`.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, get_args

import sqlalchemy as sa

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import GateRefused, MltrackError, TrackingError
from ragline.mltrack.tracking.artifacts import (
    PYFUNC_MODEL_DIR,
    Feature,
    ModelArtifact,
    model_folder,
)
from ragline.mltrack.tracking.audit import (
    AUDIT,
    AUDIT_METADATA,
    Action,
    AuditEntry,
    By,
    ChainReport,
    append_rows,
    audit_row,
    ensure_audit,
    verify_chain,
)
from ragline.mltrack.tracking.experiment_run import P
from ragline.mltrack.tracking.gates import GateDecision, GateInputs, check_gates
from ragline.mltrack.tracking.mlflow_store import MlflowStore

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

Stage = Literal["development", "staging", "production"]
STAGES: tuple[Stage, ...] = get_args(Stage)
STAGE_ORDER = "stage-order"
VERDICT_TAG = P + "verdict"  # the experiment's verdict (ragline.mltrack.tracking.experiments)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ModelVersionInfo:
    """A registered version: its stage, the run it came from and its input signature.

    Example:
        >>> registry.current("churn", "production").version  # doctest: +SKIP
        3
    """

    name: str
    version: int
    stage: Stage | None
    run_id: str | None
    source: str
    format: str
    signature: tuple[Feature, ...]
    pyfunc: bool = False  # source is an MLflow pyfunc model (mlflow.pyfunc.load_model loads it)


def _stage_of(version: int, aliases: Mapping[str, int]) -> Stage | None:
    held = [s for s in STAGES if aliases.get(s) == version]
    return held[-1] if held else None


def _order_problem(from_stage: Stage | None, to_stage: Stage) -> str | None:
    if to_stage == "development":
        return "versions enter development by register(); promote moves them to staging/production"
    if to_stage == "staging" and from_stage in ("staging", "production"):
        return f"the version is already in {from_stage}"
    if to_stage == "production" and from_stage != "staging":
        return f"the version is in {from_stage or 'no stage'}; promote it to staging first"
    return None


def _refusal(name: str, version: int, to_stage: str, decision: GateDecision) -> str:
    failed = decision.failed
    lines = "\n".join(f"- {r.name}: {r.reason}" for r in failed)
    return (
        f"promotion of {name} version {version} to {to_stage} refused by gate(s) "
        f"{', '.join(r.name for r in failed)}:\n{lines}\nImprove the candidate or its evidence "
        "and promote again; --force --reason TEXT overrides the gates and is recorded as forced"
    )


def production_stack(entries: Sequence[AuditEntry]) -> list[int]:
    """The versions that held production, oldest first, with rolled-back ones popped."""
    stack: list[int] = []
    for e in entries:
        if e.action == "promote" and e.to_stage == "production":
            stack.append(e.version)
        elif e.action == "rollback" and stack:
            stack.pop()
    return stack


class ModelRegistry:
    """Registered models on MLflow's registry, with gated promotion and an append-only audit.

    Example:
        >>> registry = ModelRegistry(MltrackConfig(), Path(".ragline"))   # opens nothing yet
        >>> registry.current("churn", "production")  # doctest: +SKIP
        ModelVersionInfo(name='churn', version=3, stage='production', ...)
    """

    def __init__(
        self, config: MltrackConfig, data_dir: Path, *, store: MlflowStore | None = None
    ) -> None:
        self.config = config
        self.store = store or MlflowStore(config, data_dir)
        self._audit_ready = False

    def register(
        self, name: str, folder: Path, *, run_id: str, actor: str, command: str | None = None
    ) -> ModelVersionInfo:
        """Copy a model folder into run `run_id`'s artifacts and register it as a new version
        in development. Pickled files are refused (UnsafeModelFile) before anything is stored.

        `folder` may be an MLflow pyfunc package (``MLmodel`` at its top, as
        `ragline.mltrack.tabular.pyfunc.package_model` writes): the version's source is then the
        package, so ``mlflow.pyfunc.load_model("models:/NAME@STAGE")`` and ``mlflow models
        serve`` load it, while `load` still hands `load_fn` the model folder inside it."""
        inner = model_folder(folder)
        artifact = ModelArtifact.read(inner)
        client, path = self.store.client, f"registered/{name}/{uuid.uuid4().hex[:12]}"
        packaged = inner != folder
        tags = {
            "ragline.format": artifact.format,
            "ragline.signature": json.dumps([[f.name, f.dtype] for f in artifact.signature]),
            "ragline.target": artifact.target or "",
            "ragline.artifact_path": f"{path}/{PYFUNC_MODEL_DIR}" if packaged else path,
            "ragline.flavor": "python_function" if packaged else "none",
        }
        with self.store.errors(f"registering {name} from run {run_id}"):
            source = f"{client.get_run(run_id).info.artifact_uri}/{path}"
            client.log_artifacts(run_id, str(folder), path)
            self._ensure_model(name)
            mv = client.create_model_version(name, source, run_id, tags=tags)
        by, version = By(actor, command or shlex.join(sys.argv)), int(mv.version)
        rows = self._move(name, version, None, "development", by, "replaced by a newer build")
        why = f"{artifact.format}, {len(artifact.signature)} features, from run {run_id}"
        self._append([*rows, audit_row(name, version, None, "development", "register", by, why)])
        return self._info(mv, self._aliases(name))

    def promote(
        self,
        name: str,
        version: int,
        to_stage: Stage,
        inputs: GateInputs,
        *,
        actor: str,
        command: str | None = None,
        force: bool = False,
        reason: str = "",
    ) -> GateDecision:
        """Move `version` to `to_stage` when every gate passes; otherwise append a ``refuse``
        row and raise GateRefused naming the failed gates. ``force=True`` overrides the gates
        (not the stage order) and says so, with `reason`, in the audit log."""
        self._version(name, version)
        aliases, by = self._aliases(name), By(actor, command or shlex.join(sys.argv))
        from_stage = _stage_of(version, aliases)
        problem = _order_problem(from_stage, to_stage)
        if problem is not None:
            why = f"{STAGE_ORDER}: {problem}"
            self._append([audit_row(name, version, from_stage, to_stage, "refuse", by, why)])
            raise GateRefused(
                f"promotion of {name} version {version} to {to_stage} refused by gate "
                f"{STAGE_ORDER}: {problem}"
            )
        decision = check_gates(
            inputs,
            min_quality=self.config.min_quality,
            confidence=self.config.confidence,
            production_exists="production" in aliases,
        )
        if not decision.passed and not force:
            why = f"refused by {', '.join(r.name for r in decision.failed)}\n{decision.summary()}"
            self._append([audit_row(name, version, from_stage, to_stage, "refuse", by, why)])
            raise GateRefused(_refusal(name, version, to_stage, decision))
        why = decision.summary()
        if not decision.passed:
            because = f"; reason: {reason}" if reason else "; no reason given"
            why = f"FORCED past {', '.join(r.name for r in decision.failed)}{because}\n{why}"
        rows = self._move(name, version, from_stage, to_stage, by, f"replaced by version {version}")
        self._append([*rows, audit_row(name, version, from_stage, to_stage, "promote", by, why)])
        return decision

    def rollback(
        self, name: str, *, actor: str, command: str | None = None, reason: str = ""
    ) -> ModelVersionInfo:
        """Put back the version that was in production before the current one (per the audit
        log) and return it; raises MltrackError when there is none."""
        stack = production_stack(self.history(name))
        if len(stack) < 2:
            raise MltrackError(
                f"cannot roll back {name}: the audit log shows no earlier production version "
                f"(production so far: {stack or 'none'}); promote a version instead"
            )
        current, previous = stack[-1], stack[-2]
        self._version(name, previous)  # it must still be registered
        by = By(actor, command or shlex.join(sys.argv))
        from_stage = _stage_of(previous, self._aliases(name))
        rows = self._move(name, previous, from_stage, "production", by, "rolled back")
        why = f"rolled back from version {current}" + (f": {reason}" if reason else "")
        self._append(
            [*rows, audit_row(name, previous, from_stage, "production", "rollback", by, why)]
        )
        self._archive_experiment(name, current, keep=previous)
        info = self.current(name, "production")
        if info is None:  # pragma: no cover - the alias was set just above
            raise TrackingError(f"{name}: the production alias vanished during rollback; retry")
        return info

    def archive(
        self, name: str, version: int, *, actor: str, reason: str, command: str | None = None
    ) -> ModelVersionInfo:
        """Take `version` out of development or staging (it keeps no stage) and append an
        ``archive`` row; a production version is refused: roll back or promote another."""
        self._version(name, version)
        aliases = self._aliases(name)
        stage = _stage_of(version, aliases)
        if stage == "production":
            raise MltrackError(
                f"{name} version {version} is in production; `ragline ml rollback {name}` or "
                "promote another version instead of archiving it"
            )
        with self.store.errors(f"archiving {name} version {version}"):
            for alias in [a for a, v in aliases.items() if a in STAGES and v == version]:
                self.store.client.delete_registered_model_alias(name, alias)
        by = By(actor, command or shlex.join(sys.argv))
        self._append([audit_row(name, version, stage, None, "archive", by, reason)])
        return self.version(name, version)

    def record(
        self,
        name: str,
        version: int,
        action: Action,
        stages: tuple[str | None, str | None],
        *,
        by: By,
        reason: str,
    ) -> None:
        """Append one audit row of a workflow that moves no alias itself (a rollout's
        ``canary-*`` steps; `stages` is (from, to), e.g. ("5%", "25%")).

        Example:
            >>> registry.record("churn", 4, "canary-advance", ("5%", "25%"),
            ...                 by=By("ana", "ragline ml rollout advance churn"), reason="healthy")
        """
        self._version(name, version)
        self._append([audit_row(name, version, stages[0], stages[1], action, by, reason)])

    def adopt(self, name: str, version: int, *, by: By, reason: str) -> None:
        """Move a staged `version` to production without checking the gates again: for a
        rollout that checked them at its start and has since watched the version serve. The
        ``promote`` row (and the displaced version's ``archive`` row) look like `promote`'s, so
        `rollback` and `history` treat it as any promotion."""
        self._version(name, version)
        from_stage = _stage_of(version, self._aliases(name))
        if from_stage != "staging":
            raise MltrackError(
                f"{name} version {version} is in {from_stage or 'no stage'}, not staging; "
                f"`ragline ml promote {name} {version} --to staging` first"
            )
        rows = self._move(
            name, version, from_stage, "production", by, f"replaced by version {version}"
        )
        self._append(
            [*rows, audit_row(name, version, from_stage, "production", "promote", by, reason)]
        )

    def current(self, name: str, stage: Stage) -> ModelVersionInfo | None:
        """The version in `stage`, or None when no version holds it."""
        aliases = self._aliases(name)
        if stage not in aliases:
            return None
        return self._info(self._version(name, aliases[stage]), aliases)

    def version(self, name: str, version: int) -> ModelVersionInfo:
        """One version's facts (stage, run, format, signature); MltrackError if it is absent."""
        return self._info(self._version(name, version), self._aliases(name))

    def versions(self, name: str) -> tuple[ModelVersionInfo, ...]:
        """Every version of `name`, newest first."""
        aliases = self._aliases(name)
        with self.store.errors(f"listing versions of {name}"):
            found = self.store.client.search_model_versions(f"name = '{name}'")
        infos = (self._info(mv, aliases) for mv in found)
        return tuple(sorted(infos, key=lambda i: -i.version))

    def history(self, name: str) -> tuple[AuditEntry, ...]:
        """Every audit row of model `name`, oldest first."""
        columns = [AUDIT.c[f.name] for f in fields(AuditEntry)]
        query = sa.select(*columns).where(AUDIT.c.model == name).order_by(AUDIT.c.id)
        with (
            self.store.errors(f"reading the audit log of {name}"),
            self._audit().connect() as conn,
        ):
            rows = conn.execute(query).mappings().all()
        # SQLite hands timestamps back without their zone; they were written in UTC
        return tuple(
            AuditEntry(**(dict(r) | {"ts": r["ts"].replace(tzinfo=r["ts"].tzinfo or UTC)}))
            for r in rows
        )

    def verify_audit(self, name: str | None = None) -> ChainReport:
        """Recompute the audit log's hash chains (every model's, or `name`'s); the report
        names the first row that was altered, or after which one was removed."""
        with self.store.errors("verifying the registry audit log"):
            return verify_chain(self._audit(), name)

    def load(
        self, name: str, stage: Stage, load_fn: Callable[[Path], T], *, dst: Path | None = None
    ) -> T:
        """Download the version in `stage` (into `dst`, or a temporary folder), check it holds
        no pickles, and return ``load_fn(folder)``.

        Example:
            >>> from ragline.mltrack.tabular.artifacts import load_model
            >>> model = registry.load("churn", "production", load_model)  # doctest: +SKIP
        """
        info = self.current(name, stage)
        if info is None:
            raise MltrackError(f"{name} has no {stage} version; promote one first")
        return self.load_version(name, info.version, load_fn, dst=dst)

    def load_version(
        self, name: str, version: int, load_fn: Callable[[Path], T], *, dst: Path | None = None
    ) -> T:
        """`load` for one version by number, whatever its stage."""
        mv = self._version(name, version)
        info = self._info(mv, self._aliases(name))
        path = mv.tags.get("ragline.artifact_path", "")
        with tempfile.TemporaryDirectory(prefix="ragline-model-") as tmp:
            with self.store.errors(f"downloading {name} version {info.version}"):
                local = self.store.client.download_artifacts(
                    info.run_id or "", path, str(dst or tmp)
                )
            ModelArtifact.read(Path(local))
            return load_fn(Path(local))

    def close(self) -> None:
        """Release mltrack's database connections."""
        self.store.close()

    def _ensure_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.store.client.get_registered_model(name)
            return
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            self.store.client.create_registered_model(name)
        except MlflowException as exc:  # a concurrent register created it meanwhile
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def _aliases(self, name: str) -> dict[str, int]:
        from mlflow.exceptions import MlflowException

        with self.store.errors(f"reading model {name}"):
            try:
                model = self.store.client.get_registered_model(name)
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return {}
                raise
        return {alias: int(v) for alias, v in model.aliases.items()}

    def _version(self, name: str, version: int) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        with self.store.errors(f"reading {name} version {version}"):
            try:
                return self.store.client.get_model_version(name, str(version))
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
        raise MltrackError(
            f"model {name!r} has no version {version}; see ModelRegistry.history({name!r})"
        )

    def _move(
        self, name: str, version: int, from_stage: Stage | None, to_stage: Stage, by: By, why: str
    ) -> list[dict[str, object]]:
        """Point `to_stage` at `version` and drop its `from_stage` alias; returns the archive
        row of the version it displaced, if any."""
        aliases, client = self._aliases(name), self.store.client
        displaced = aliases.get(to_stage)
        with self.store.errors(f"moving {name} version {version} to {to_stage}"):
            client.set_registered_model_alias(name, to_stage, str(version))
            if from_stage is not None and aliases.get(from_stage) == version:
                client.delete_registered_model_alias(name, from_stage)
        if displaced is None or displaced == version:
            return []
        return [audit_row(name, displaced, to_stage, None, "archive", by, why)]

    def _audit(self) -> sa.Engine:
        """The audit table's engine; its chain columns and triggers are checked once."""
        engine = self.store.engine(AUDIT_METADATA)
        if not self._audit_ready:
            with self.store.errors("preparing the registry audit log"):
                ensure_audit(engine)
            self._audit_ready = True
        return engine

    def _append(self, rows: list[dict[str, object]]) -> None:
        with self.store.errors("appending to the registry audit log"):
            append_rows(self._audit(), rows)

    def _archive_experiment(self, name: str, version: int, *, keep: int) -> None:
        """Mark the experiment of a version rolled back out of production ``archived`` (unless
        the restored version `keep` came from the same run), so lists stop calling it promoted."""
        run_id = self._version(name, version).run_id
        if not run_id or run_id == self._version(name, keep).run_id:
            return
        with self.store.errors(f"archiving the experiment of {name} version {version}"):
            self.store.client.set_tag(run_id, VERDICT_TAG, "archived")

    def _info(self, mv: ModelVersion, aliases: Mapping[str, int]) -> ModelVersionInfo:
        version, tags = int(mv.version), mv.tags
        pairs = json.loads(tags.get("ragline.signature", "[]"))
        return ModelVersionInfo(
            name=mv.name,
            version=version,
            stage=_stage_of(version, aliases),
            run_id=mv.run_id,
            source=mv.source or "",
            format=tags.get("ragline.format", ""),
            signature=tuple(Feature(str(n), str(d)) for n, d in pairs),
            pyfunc=tags.get("ragline.flavor") == "python_function",
        )
