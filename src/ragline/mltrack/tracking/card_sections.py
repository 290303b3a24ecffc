"""Model-card sections about what the model reads and who looks after it, and the Markdown
helpers every section shares (`ragline.mltrack.tracking.card` assembles the card).

    lines = confusion_section(inputs)      # '## Confusion matrix (test split)', the table, ...
    lines = maintenance_section(inputs)    # owner, retraining cadence/trigger, monitoring

Why a module of its own: the card grew past what one module should hold; these sections read
the facts a training run records (`ragline.mltrack.tracking.run_facts`) and the people-declared
``experiment.*`` text, and print a hint naming the config key to fill when a field is missing,
so a reader learns what to add instead of reading a blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ragline.mltrack.tabular.artifacts import ModelFile
    from ragline.mltrack.tracking.experiments import ExperimentRecord


class Declared(Protocol):
    """The people-written text these sections print (`ragline.mltrack.tracking.card.CardSpec`)."""

    @property
    def owner(self) -> str | None: ...
    @property
    def retraining(self) -> str | None: ...
    @property
    def monitoring(self) -> str | None: ...
    @property
    def ethical_considerations(self) -> tuple[str, ...]: ...
    @property
    def contact(self) -> str | None: ...


class CardInputs(Protocol):
    """What these sections read of `ragline.mltrack.tracking.card.CardInputs` (a protocol, so
    this module does not import the card that imports it)."""

    @property
    def experiment(self) -> ExperimentRecord | None: ...
    @property
    def spec(self) -> Declared: ...
    @property
    def model_file(self) -> ModelFile | None: ...


__all__ = [
    "ABSENT",
    "cell",
    "confusion_section",
    "contact_section",
    "date_range_line",
    "ethics_section",
    "features_section",
    "hint",
    "maintenance_section",
    "table",
]

ABSENT = "not recorded"


def hint(key: str) -> str:
    """What a card prints for an undeclared ``experiment.<key>``.

    Example:
        >>> hint("contact")
        'not stated: add `experiment.contact` to the training config'
    """
    return f"not stated: add `experiment.{key}` to the training config"


def cell(value: object) -> str:
    """A Markdown table cell: None as "not recorded", pipes escaped, one line."""
    return (ABSENT if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table's lines.

    Example:
        >>> table(("a", "b"), [(1, None)])
        ['| a | b |', '|---|---|', '| 1 | not recorded |']
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{cell(n)}`" for n in names)


def features_section(inputs: CardInputs) -> list[str]:
    """The model's inputs after the feature pipeline and the raw columns they come from."""
    plan = inputs.experiment.plan if inputs.experiment else None
    out = ["## Features used"]
    if plan is None or not plan.features:
        why = "no experiment record" if plan is None else "the run did not record them"
        return [*out, f"Not recorded ({why}; `ragline ml train` records them)."]
    raw = f", made from {len(plan.raw_columns)} raw column(s)" if plan.raw_columns else ""
    out += [f"{len(plan.features)} model input(s) after the feature pipeline{raw}.", ""]
    if plan.raw_columns:
        out += [f"- raw columns: {_names(plan.raw_columns)}"]
    return [*out, f"- model inputs: {_names(plan.features)}"]


def date_range_line(inputs: CardInputs) -> str:
    """The training rows' date range, or why there is none plus the dataset's hash and rows."""
    rec = inputs.experiment
    found = rec.data_range if rec else None
    dataset = rec.plan.dataset_version if rec and rec.plan.dataset_version else ABSENT
    if found is None:
        return f"- training data dates: {ABSENT}; dataset {dataset}"
    rows = f"{found.table_rows:,} rows ({found.train_rows:,} in the train split)"
    if found.start is not None and found.end is not None:
        where = f"`{found.column}`, {found.train_rows:,} train rows"
        return f"- training data dates: {found.start} to {found.end} ({where})"
    why = (
        f"`{found.column}` held no readable times"
        if found.column
        else "no `data.time_column` in the config"
    )
    return f"- training data dates: {ABSENT} ({why}); dataset {dataset}, {rows}"


def confusion_section(inputs: CardInputs) -> list[str]:
    """Counts of actual against predicted classes on the test split, with the decision rule."""
    out = ["## Confusion matrix (test split)"]
    mf, rec = inputs.model_file, inputs.experiment
    if mf is not None and mf.task == "regression":
        return [*out, "Not applicable: a regression model."]
    matrix = rec.confusion if rec else None
    if matrix is None:
        return [*out, f"{ABSENT.capitalize()} (`ragline ml train` records it for classifiers)."]
    if matrix.threshold is None:
        rule = "the most probable class is predicted"
    else:
        rule = f"`{matrix.labels[-1]}` is predicted when its score >= {matrix.threshold:g}"
    out += [f"Rows: actual class; columns: predicted class; {rule}.", ""]
    header = ("actual \\ predicted", *matrix.labels, "total")
    rows = [
        (label, *row, sum(row)) for label, row in zip(matrix.labels, matrix.counts, strict=True)
    ]
    return [*out, *table(header, rows), "", f"{matrix.total:,} {matrix.split} rows counted."]


def maintenance_section(inputs: CardInputs) -> list[str]:
    """Who answers for the model, when it is retrained and what watches it."""
    spec = inputs.spec
    return [
        "## Maintenance",
        f"- owner: {spec.owner or hint('owner')}",
        f"- retraining (cadence or trigger): {spec.retraining or hint('retraining')}",
        f"- monitoring in place: {spec.monitoring or hint('monitoring')}",
    ]


def ethics_section(inputs: CardInputs) -> list[str]:
    """Declared ethical considerations (risks, affected groups, mitigations)."""
    declared = [f"- {cell(x)}" for x in inputs.spec.ethical_considerations]
    return ["## Ethical considerations", *(declared or [f"- {hint('ethical_considerations')}"])]


def contact_section(inputs: CardInputs) -> list[str]:
    """Where questions and problem reports about the model go."""
    return ["## Contact", inputs.spec.contact or hint("contact").capitalize() + "."]
