"""Model cards: Markdown about one registered version, from what mltrack recorded about it.

    inputs = gather_card_inputs(registry, tracker, "adult-income", "production")  # or 3
    Path("CARD.md").write_text(render_card(inputs))          # `ragline ml card NAME[:VERSION]`

Sources: the registry (version, stage, format, signature, audit log), the version's run (the
experiment record, its ``experiment.*``/``data.*`` params and the quality/leakage tags that
`ragline.mltrack.tabular.jobs.train_job` writes), the run's ``report.json``
(`ragline.mltrack.tabular.train`) and the model folder's ``model.json``. `render_card` is pure and
never invents: what nobody recorded is printed as "not recorded", undeclared text as the config key
to fill in; automatic limitations (no fairness measurement, groups too small, the 80% rule failed,
no gain over the baseline, a random split, a binary classifier) follow the declared ones. The
features used, the confusion matrix, the training data's dates, maintenance, ethical
considerations and contact are rendered by `ragline.mltrack.tracking.card_sections`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ragline.mltrack.data.quality import DIMENSIONS
from ragline.mltrack.errors import DataError, MltrackError
from ragline.mltrack.tracking.audit import AuditEntry
from ragline.mltrack.tracking.card_sections import (
    ABSENT,
    confusion_section,
    contact_section,
    date_range_line,
    ethics_section,
    features_section,
    maintenance_section,
)
from ragline.mltrack.tracking.card_sections import cell as _cell
from ragline.mltrack.tracking.card_sections import table as _table
from ragline.mltrack.tracking.experiments import ExperimentRecord, Tracker
from ragline.mltrack.tracking.registry import STAGES, ModelRegistry, ModelVersionInfo

if TYPE_CHECKING:
    from ragline.mltrack.tabular.artifacts import ModelFile

__all__ = ["CardInputs", "CardSpec", "DataChecks", "gather_card_inputs", "render_card"]

Report = Mapping[str, object]


class CardSpec(BaseModel):
    """What the model is for, declared by people (the training config's ``experiment:`` keys).

    Example:
        >>> CardSpec(intended_use="rank loan applications for review", owner="risk-ml").owner
        'risk-ml'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    intended_use: str | None = None
    out_of_scope: str | None = None
    limitations: tuple[str, ...] = Field(default=())
    owner: str | None = None
    retraining: str | None = None
    monitoring: str | None = None
    ethical_considerations: tuple[str, ...] = Field(default=())
    contact: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> CardSpec:
        """The ``experiment.*`` params a training run logged (`ragline.mltrack.tabular.train`).

        Example:
            >>> CardSpec.from_params({"experiment.limitations": '["US census, 1994"]'}).limitations
            ('US census, 1994',)
        """

        found = {k: params.get(f"experiment.{k}") for k in cls.model_fields}
        text = {k: str(v) for k, v in found.items() if v is not None and v != ""}
        fields: dict[str, object] = dict(text)
        for key in ("limitations", "ethical_considerations"):  # lists are logged as JSON
            raw = text.get(key, "")
            items = json.loads(raw) if raw.startswith("[") else [raw] if raw else []
            fields[key] = tuple(str(x) for x in items)
        return cls.model_validate(fields)


@dataclass(frozen=True, slots=True)
class DataChecks:
    """Data-quality scores by dimension (empty: not recorded) and leakage findings (None: the
    checks were not recorded; empty: they found nothing).

    Example:
        >>> DataChecks({"completeness": 5, "volume": 5}, leakage=()).leakage
        ()
    """

    quality: Mapping[str, int] = field(default_factory=dict)
    quality_forced: bool = False
    leakage: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CardInputs:
    """Everything `render_card` prints: ``report`` is the run's parsed ``report.json`` (empty
    when there is none), ``history`` the model's audit rows.

    Example:
        >>> render_card(CardInputs(version_info, None, {}, ()))  # doctest: +SKIP
    """

    version: ModelVersionInfo
    experiment: ExperimentRecord | None
    report: Report
    history: tuple[AuditEntry, ...]
    spec: CardSpec = field(default_factory=CardSpec)
    checks: DataChecks = field(default_factory=DataChecks)
    model_file: ModelFile | None = None

    def param(self, key: str) -> object:
        """A param of the experiment's run (``data.protected``, ...), or None."""
        return None if self.experiment is None else self.experiment.plan.params.get(key)


def _sub(data: object, key: str) -> Report:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _num(data: object, key: str) -> float | None:
    value = data.get(key) if isinstance(data, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _rows(data: object, key: str) -> list[Report]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _f(value: float | None) -> str:
    return ABSENT if value is None else f"{value:.4f}"


def _ci(data: object) -> str:
    low, high = _num(data, "ci_low"), _num(data, "ci_high")
    return "not computed" if low is None or high is None else f"[{low:.4f}, {high:.4f}]"


def _level(inputs: CardInputs) -> str:
    level = inputs.param("metrics.confidence")
    return f"{float(level):.0%} CI" if isinstance(level, int | float) else "CI (level not recorded)"


def _model(inputs: CardInputs) -> list[str]:
    v, mf = inputs.version, inputs.model_file
    out = ["## Model", f"- name: {v.name}", f"- version: {v.version}"]
    out += [f"- stage: {v.stage or 'none (archived)'}", f"- format: {v.format or ABSENT}"]
    out += [f"- kind: {mf.kind if mf else ABSENT}", f"- task: {mf.task if mf else ABSENT}"]
    out += [f"- owner: {inputs.spec.owner or 'not declared: add experiment.owner to the config'}"]
    out += [f"- source: `{v.source}`", f"- run: {v.run_id or ABSENT}"]
    if v.pyfunc:
        out.append(f'- MLflow pyfunc: `mlflow.pyfunc.load_model("models:/{v.name}/{v.version}")`')
    out.append("")
    if mf is not None:
        classes = mf.signature.classes
        out += [f"Target `{mf.signature.target}`, classes {list(classes) if classes else 'none'}."]
        out.append("")
    out += ["Input signature:", ""]
    return out + _table(("feature", "dtype"), ((f.name, f.dtype) for f in v.signature))


def _uses(inputs: CardInputs) -> list[str]:
    spec, missing = inputs.spec, "_Not declared._ Add `experiment.{}` to the training config."
    out = ["## Intended use", spec.intended_use or missing.format("intended_use"), ""]
    return [*out, "## Out of scope", spec.out_of_scope or missing.format("out_of_scope")]


def _positive_rate(report: Report) -> str:
    curve = _sub(_sub(report, "calibration"), "curve")
    counts, shares = curve.get("counts"), curve.get("fraction_positive")
    if isinstance(counts, list) and isinstance(shares, list) and sum(counts) > 0:
        pos = sum(c * s for c, s in zip(counts, shares, strict=True) if s is not None)
        return f"{pos / sum(counts):.4f} (test split)"
    return ABSENT


def _data(inputs: CardInputs) -> list[str]:
    rec, report, split = inputs.experiment, inputs.report, _sub(inputs.report, "split")
    sig = inputs.model_file.signature if inputs.model_file else None
    target = sig.target if sig else inputs.param("data.target")
    positive = sig.classes[-1] if sig and sig.classes else inputs.param("data.positive_label")
    out = ["## Data", f"- dataset version: {rec.plan.dataset_version if rec else ABSENT}"]
    out += [f"- table: {_cell(inputs.param('data.path'))}", f"- target: {_cell(target)}"]
    classes = sig.classes if sig is not None and sig.classes else ()
    multiclass = len(classes) > 2
    if multiclass:
        out.append(f"- classes: {', '.join(_cell(c) for c in classes)}")
    else:
        out.append(f"- positive label: {_cell(positive)}")
    sizes = ", ".join(
        f"{k} {n:,.0f}" for k in ("train", "valid", "test") if (n := _num(split, k)) is not None
    )
    out.append(f"- rows: {sizes or ABSENT} ({split.get('kind', 'split kind ' + ABSENT)} split)")
    if not multiclass:  # one class against the rest says nothing of K classes
        out.append(f"- positive rate: {_positive_rate(report)}")
    features = report.get("features")
    out.append(f"- features: {len(features) if isinstance(features, list) else ABSENT}")
    out.append(date_range_line(inputs))
    quality = inputs.checks.quality
    if not quality:
        return [
            *out,
            "- data quality: not recorded (`ragline.mltrack.tabular.jobs.train_job` scores it)",
        ]
    forced = " (FORCED below the threshold)" if inputs.checks.quality_forced else ""
    out += ["", f"Data quality {sum(quality.values())}/30{forced}:", ""]
    return out + _table(("dimension", "score /5"), ((d, quality.get(d)) for d in DIMENSIONS))


def _training(inputs: CardInputs) -> list[str]:
    rec, report = inputs.experiment, inputs.report
    primary = str(report.get("primary", "primary metric"))
    baseline, delta = _sub(report, "baseline"), _sub(_sub(report, "delta"), primary)
    verdict = rec.outcome.verdict if rec and rec.outcome else ABSENT
    wall = _num(_sub(report, "timings_s"), "wall")
    out = ["## Training", f"- experiment: {rec.id if rec else ABSENT}"]
    out += [f"- hypothesis: {_cell(rec.plan.hypothesis) if rec else ABSENT}"]
    out += [f"- verdict: {verdict}", f"- model type: {rec.plan.model_type if rec else ABSENT}"]
    notes = _cell(rec.plan.notes) if rec and rec.plan.notes else "none (`experiment.notes`)"
    out.append(f"- notes: {notes}")
    run_s = rec.wall_clock_s if rec else None
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in (("train()", wall), ("run", run_s)) if v)
    out.append(f"- wall-clock: {seconds or ABSENT}")
    base = _num(_sub(baseline, primary), "value")
    out.append(f"- baseline: {baseline.get('kind', ABSENT)}, {primary} {_f(base)}")
    gain = delta.get("improved")
    improved = "better" if gain is True else "worse" if gain is False else "CI includes 0"
    change = f"{_f(_num(delta, 'delta'))} {_ci(delta)} ({improved})" if delta else ABSENT
    out.append(f"- model - baseline ({primary}, {_level(inputs)}): {change}")
    tuning = _sub(report, "tuning")
    trials = _rows(tuning, "trials")
    pruned = sum(t.get("state") == "PRUNED" for t in trials)
    tuned = f"{len(trials)} Optuna trials, {pruned} pruned" if tuning else "no (fixed params)"
    best = inputs.model_file.best_iteration if inputs.model_file else None
    out += [f"- tuning: {tuned}", f"- boosting rounds kept: {_cell(best)}", ""]
    out += ["Hyperparameters set (the library's defaults for the rest):", ""]
    params = sorted(_sub(report, "params").items())
    return out + (_table(("param", "value"), params) if params else [ABSENT])


def _metrics(inputs: CardInputs) -> list[str]:
    report, primary = inputs.report, inputs.report.get("primary")
    metrics = _sub(report, "metrics")
    out = ["## Metrics (test split)", ""]
    rows = [
        (f"{n} (primary)" if n == primary else n, _f(_num(m, "value")), _ci(m), m.get("measured"))
        for n, m in ((str(k), _sub(metrics, str(k))) for k in metrics)
    ]
    out += _table(("metric", "value", _level(inputs), "rows"), rows) if rows else [ABSENT]
    calibration = _sub(report, "calibration")
    bins = _sub(calibration, "curve").get("counts")
    where = f" over {len(bins)} bins" if isinstance(bins, list) else ""
    ece = _f(_num(calibration, "ece")) if calibration else ABSENT
    return [*out, "", "## Calibration", f"Expected calibration error (ECE{where}): {ece}"]


def _fairness(inputs: CardInputs) -> list[str]:
    fair, attribute = _sub(inputs.report, "fairness"), inputs.param("data.protected")
    if not fair:
        why = "no protected attribute (set data.protected in the training config)"
        return ["## Fairness", f"Not measured: {why}."]
    header = (
        "group",
        "rows",
        "actual positives",
        "selection rate",
        "TPR",
        "FPR",
        "accuracy",
        "note",
    )
    rows = [
        (
            g.get("group"),
            g.get("count"),
            g.get("positives"),
            _f(_num(g, "selection_rate")),
            _f(_num(g, "tpr")),
            _f(_num(g, "fpr")),
            _f(_num(g, "accuracy")),
            "too small: left out" if g.get("too_small") else "",
        )
        for g in _rows(fair, "groups")
    ]
    di, passes = _num(fair, "disparate_impact"), fair.get("passes_80_rule")
    rule = "passes" if passes is True else "FAILS" if passes is False else "cannot judge"
    out = ["## Fairness", f"By `{_cell(attribute)}` on the test split, decision = score >= "]
    out[-1] += f"{_cell(inputs.param('metrics.threshold'))}:"
    out += ["", *_table(header, rows), ""]
    out.append(f"- disparate impact (min/max selection rate): {_f(di)}: {rule} the 80% rule")
    eod = _f(_num(fair, "equal_opportunity_difference"))
    out.append(f"- equal-opportunity difference (max - min TPR): {eod}")
    return [*out, f"- groups under {_cell(fair.get('min_count'))} rows are left out of both"]


def _leakage(inputs: CardInputs) -> list[str]:
    found, trace = inputs.checks.leakage, _rows(inputs.report, "fit_records")
    out = ["## Leakage checks"]
    if found is None:
        out.append("Not recorded for this run (`ragline ml leakage CONFIG` runs them).")
    elif not found:
        out.append("Clean: no finding in the recorded checks.")
    else:
        out += [f"{len(found)} finding(s):", "", *(f"- {_cell(f)}" for f in found)]
    return [*out, "", f"Pipeline trace: {len(trace)} fitted steps in report.json."]


def _history(inputs: CardInputs) -> list[str]:
    mine = [e for e in inputs.history if e.version == inputs.version.version]
    rows = [
        (
            e.ts.strftime("%Y-%m-%d %H:%M UTC"),
            e.action,
            e.from_stage or "-",
            e.to_stage or "-",
            e.actor,
            e.reason.splitlines()[0] if e.reason else "",
        )
        for e in mine
    ]
    header = ("when", "action", "from", "to", "actor", "reason")
    return ["## Stage history", "", *(_table(header, rows) if rows else [ABSENT])]


def _automatic(inputs: CardInputs) -> list[str]:
    report, mf = inputs.report, inputs.model_file
    fair, primary = _sub(report, "fairness"), str(report.get("primary", ""))
    out: list[str] = []
    if inputs.experiment is None:
        out.append("No experiment record: hypothesis, dataset version and verdict are unknown.")
    if not report:
        out.append("No report.json: metrics, calibration and fairness were not recorded.")
    elif not fair:
        out.append("Fairness not measured: no protected attribute.")
    excluded = fair.get("excluded")
    if isinstance(excluded, list) and excluded:
        small = f"{', '.join(map(str, excluded))} (under {fair.get('min_count')} test rows)"
        out.append(f"Groups too small to judge fairness: {small}.")
    if fair.get("passes_80_rule") is False:
        out.append(f"Disparate impact {_f(_num(fair, 'disparate_impact'))} fails the 80% rule.")
    delta = _sub(_sub(report, "delta"), primary)
    if delta and delta.get("improved") is not True:
        out.append(f"No significant gain over the baseline on {primary}.")
    if mf is not None and mf.signature.classes and len(mf.signature.classes) == 2:
        label = mf.signature.classes[1]
        out.append(f"Binary classification only: scores P({mf.signature.target} = {label}).")
    kind = _sub(report, "split").get("kind")
    if kind in ("stratified", "grouped"):
        out.append(f"Tested on a {kind} random split of one dataset version, not on later data.")
    if inputs.checks.quality_forced:
        out.append("Trained although the data-quality score was under the threshold (forced).")
    return out


def _limitations(inputs: CardInputs) -> list[str]:
    declared = [f"- {_cell(x)}" for x in inputs.spec.limitations]
    if not declared:
        declared = ["- _None declared._ Add `experiment.limitations` to the training config."]
    automatic = [f"- {x}" for x in _automatic(inputs)]
    return ["## Limitations", "Declared:", "", *declared, "", "Found by mltrack:", "", *automatic]


def render_card(inputs: CardInputs) -> str:
    """The model card as Markdown (pure: everything comes from `inputs`).

    Example:
        >>> text = render_card(gather_card_inputs(registry, tracker, "churn", 3))  # doctest: +SKIP
        >>> text.splitlines()[0]  # doctest: +SKIP
        '# Model card: churn version 3'
    """
    parts = (
        _model,
        _uses,
        _data,
        features_section,
        _training,
        _metrics,
        confusion_section,
        _fairness,
        _leakage,
        _history,
        _limitations,
        ethics_section,
        maintenance_section,
        contact_section,
    )
    title = f"# Model card: {inputs.version.name} version {inputs.version.version}"
    return "\n\n".join([title, *("\n".join(part(inputs)) for part in parts)]) + "\n"


def _checks(tags: Mapping[str, str]) -> DataChecks:
    keys: dict[str, str] = {d: f"ragline.quality.{d}" for d in DIMENSIONS}
    quality = {d: int(tags[k]) for d, k in keys.items() if k in tags}
    leakage = tags.get("ragline.leakage")
    found = tuple(str(x) for x in json.loads(leakage)) if leakage is not None else None
    return DataChecks(quality, tags.get("ragline.quality.forced") == "True", found)


def _download_report(registry: ModelRegistry, run_id: str) -> Report:
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="ragline-card-") as tmp:
        try:
            local = registry.store.client.download_artifacts(run_id, "report.json", tmp)
        except (MlflowException, OSError):  # the run logged no report (not a tabular run)
            return {}
        report = json.loads(Path(local).read_text(encoding="utf-8"))
    return report if isinstance(report, dict) else {}


def _resolve(registry: ModelRegistry, name: str, which: int | str) -> ModelVersionInfo:
    stage = next((s for s in STAGES if s == which), None)
    if stage is not None:
        info = registry.current(name, stage)
        if info is None:
            raise MltrackError(f"{name} has no {stage} version; name a version number instead")
        return info
    if isinstance(which, str) and not which.isdigit():
        raise ValueError(f"expected a version number or one of {', '.join(STAGES)}, got {which!r}")
    return registry.version(name, int(which))


def gather_card_inputs(
    registry: ModelRegistry,
    tracker: Tracker,
    name: str,
    version_or_stage: int | str,
    *,
    spec: CardSpec | None = None,
) -> CardInputs:
    """Read a version's card inputs from the registry, its run and its artifacts; `spec`
    overrides the declared text the run's ``experiment.*`` params hold.

    Example:
        >>> inputs = gather_card_inputs(registry, tracker, "churn", "staging")  # doctest: +SKIP
    """
    from ragline.mltrack.tabular.artifacts import read_model_file

    info = _resolve(registry, name, version_or_stage)
    record: ExperimentRecord | None = None
    tags: dict[str, str] = {}
    report: Report = {}
    if info.run_id is not None:
        record, tags = tracker.for_run(info.run_id)
        report = _download_report(registry, info.run_id)
    try:
        model_file = registry.load_version(name, info.version, read_model_file)
    except DataError:  # a model.json ragline.mltrack.tabular did not write: no target/classes
        model_file = None
    declared = spec or (CardSpec.from_params(record.plan.params) if record else CardSpec())
    history = registry.history(name)
    return CardInputs(info, record, report, history, declared, _checks(tags), model_file)
