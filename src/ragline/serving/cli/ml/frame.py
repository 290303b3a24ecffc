"""`ragline frame [BRIEF.yaml]`: start a problem brief, validate it, check its kill criteria,
and score ML against rules.

    ragline frame                                  # writes ./brief.yaml to fill in
    ragline frame brief.yaml                       # validate, summarise, check kill criteria
    ragline frame brief.yaml --decide --data t.csv # + the six ML-vs-rules signals

With no file, or a file that does not exist yet, the command writes the template there (never
over an existing file: no argument and an existing ./brief.yaml is refused). A valid brief is
summarised, its kill criteria are checked against the experiments recorded in the configured
MLflow store (``ml:`` settings), and ``<brief>.md`` is written next to it; ``--decide`` adds
``<brief>.decision.md``. Exit codes: 0 done; 1 a kill criterion is met (stop or rethink the
project: like a failed gate, it should fail a script); 2 bad input (an invalid brief, with the
key and the fix; an unreadable table; an existing ./brief.yaml).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ragline.mltrack.errors import MltrackError
from ragline.serving.cli.common import err, exit_2_on, fail, out, read_table, settings_from

if TYPE_CHECKING:
    from ragline.mltrack.method.brief import ProblemBrief
    from ragline.mltrack.method.decide import Decision
    from ragline.mltrack.method.kill import KillReport

DEFAULT_BRIEF = Path("brief.yaml")
_STYLE = {"met": "bold red", "not_met": "green", "no_evidence": "yellow"}


def _write_template(path: Path) -> None:
    from ragline.mltrack.method.brief import write_brief_template

    with exit_2_on(MltrackError, ValueError):
        write_brief_template(path)
    out.print(f"wrote {path}: fill in every empty value, then run `ragline frame {path}`")


def _summary(brief: ProblemBrief) -> list[tuple[str, str]]:
    metric, base, data = brief.success_metric, brief.baseline, brief.data
    target = "" if metric.target is None else f", target {metric.target:g}"
    measured = "" if base.metric_value is None else f" ({metric.metric} {base.metric_value:g})"
    p95 = brief.latency.p95_ms
    latency = brief.latency.mode + ("" if p95 is None else f", p95 <= {p95:g} ms")
    protected = ", ".join(brief.ethics.protected_attributes) or "none listed"
    return [
        ("objective", brief.business_objective),
        ("success metric", f"{metric.description} -> {metric.metric}{target}"),
        ("baseline", f"{base.description}{measured}"),
        (
            "task",
            f"{brief.task_type}: {brief.prediction.target} for "
            f"{brief.prediction.consumer} ({latency})",
        ),
        (
            "data",
            f"{len(data.available)} source(s), {len(data.gaps)} gap(s)"
            + ("" if data.path is None else f"; table {data.path}"),
        ),
        ("ethics", f"{len(brief.ethics.considerations)} consideration(s); protected: {protected}"),
        ("a/b test", "rule given" if brief.ab_test else "none"),
    ]


def _kill_report(ctx: typer.Context, brief: ProblemBrief, ids: tuple[str, ...]) -> KillReport:
    from ragline.mltrack.method.kill import brief_dataset, check_kill_criteria, recorded_evidence

    settings = settings_from(ctx)
    ml, data_dir = settings.ml, settings.data_dir
    if ml.tracking_uri is None and not (data_dir / "mlflow.db").is_file():
        # no store yet means no experiments; opening one would create it (and migrate it)
        out.print(f"experiments     none recorded ({data_dir / 'mlflow.db'} does not exist)")
        return check_kill_criteria(brief, ())
    from ragline.mltrack.tracking.experiments import Tracker

    with exit_2_on(MltrackError, ValueError), Tracker(ml, data_dir) as tracker:
        evidence = recorded_evidence(tracker, ids or brief.experiment_ids)
        dataset = brief_dataset(brief)
    out.print(f"experiments     {len(evidence)} finished in {ml.experiment!r}", markup=False)
    return check_kill_criteria(brief, evidence, dataset)


def _print_kill(report: KillReport) -> None:
    if report.evidence is not None:
        e = report.evidence
        out.print(
            f"kill criteria   checked against {e.experiment_id}, the best {e.metric} "
            f"({e.value:.4f}) of {report.considered} run(s)",
            markup=False,
        )
    else:
        out.print("kill criteria   no evidence yet: train a model (ragline ml train) first")
    if report.left_out:
        out.print(
            f"left out        {len(report.left_out)} run(s) of another target or dataset: "
            f"{', '.join(report.left_out[:5])}",
            markup=False,
        )
    for check in report.checks:
        style = _STYLE[check.status]
        out.print(f"  [{style}]{check.status:<11}[/] ", end="")
        out.print(f"{check.criterion.text}: {check.reason}", markup=False)


def _decide(brief: ProblemBrief, data: Path | None) -> Decision:
    from ragline.mltrack.method.decide import decide

    path = data or brief.data.path
    frame = read_table(path, "--data") if path is not None else None
    started = time.perf_counter()
    with exit_2_on(MltrackError, ValueError):
        decision = decide(brief, frame)
    source = f"{path}, {len(frame):,} rows" if frame is not None else "the brief's answers"
    out.print(f"ML or rules     from {source}, {time.perf_counter() - started:.1f} s", markup=False)
    return decision


def _print_decision(decision: Decision) -> None:
    from ragline.mltrack.method.decide import QUESTIONS

    for s in decision.signals:
        answer = "unknown" if s.value is None else ("yes" if s.value else "no")
        out.print(f"  {QUESTIONS[s.name]:<46} {answer:<8} ({s.source}) {s.evidence}", markup=False)
    out.print(f"recommendation  [bold]{decision.recommendation}[/]")
    for reason in decision.reasons:
        out.print(f"  {reason}", markup=False)


def brief_markdown(brief: ProblemBrief, report: KillReport) -> str:
    """The brief and its kill-criteria check as a Markdown page (``<brief>.md``)."""
    summary = (f"- **{label}**: {text}" for label, text in _summary(brief))
    lines = [f"# Problem brief: {brief.name}", "", *summary]
    for title, items in (
        ("Data available", brief.data.available),
        ("Data gaps", brief.data.gaps),
        ("Ethical considerations", brief.ethics.considerations),
    ):
        lines += ["", f"## {title}", "", *(f"- {item}" for item in items or ("none listed",))]
    lines += ["", "## Kill criteria", ""]
    if report.evidence is not None:
        e = report.evidence
        lines += [f"Checked against {e.experiment_id} ({e.metric} {e.value:.4f}).", ""]
    lines += ["| criterion | status | why |", "|---|---|---|"]
    for c in report.checks:
        reason = c.reason.replace("|", "\\|")
        lines.append(f"| {c.criterion.text} | {c.status.replace('_', ' ')} | {reason} |")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    out.print(f"wrote {path}", markup=False)


def frame_command(
    ctx: typer.Context,
    brief_path: Annotated[
        Path | None,
        typer.Argument(metavar="[BRIEF.yaml]", help="the brief; written when it does not exist"),
    ] = None,
    decide: Annotated[
        bool, typer.Option("--decide", help="score the six ML-vs-rules signals")
    ] = False,
    data: Annotated[
        Path | None, typer.Option(help="table for --decide (implies it; default: data.path)")
    ] = None,
    experiments: Annotated[
        list[str] | None,
        typer.Option("--experiment", help="check the kill criteria against this run (repeat)"),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="write Markdown next to the brief")
    ] = True,
) -> None:
    """Write a problem brief, or validate one and check its kill criteria; --decide: ML or rules."""
    from ragline.mltrack.method.brief import load_brief

    if brief_path is None or not brief_path.exists():
        if decide or data is not None:
            raise fail("--decide needs a filled-in brief: ragline frame brief.yaml --decide")
        _write_template(brief_path or DEFAULT_BRIEF)
        return
    with exit_2_on(MltrackError, ValueError):
        brief = load_brief(brief_path)
    out.print(f"[bold]{escape(brief.name)}[/]: valid brief ({escape(str(brief_path))})")
    for label, text in _summary(brief):
        out.print(f"{label:<15} {text}", markup=False)
    kill = _kill_report(ctx, brief, tuple(experiments or ()))
    _print_kill(kill)
    decision = _decide(brief, data) if decide or data is not None else None
    if decision is not None:
        _print_decision(decision)
    if report:
        summary = brief_path.with_suffix(".brief.md" if brief_path.suffix == ".md" else ".md")
        _write(summary, brief_markdown(brief, kill))
        if decision is not None:
            from ragline.mltrack.method.decide import decision_markdown

            page = brief_path.with_name(f"{brief_path.stem}.decision.md")
            _write(page, decision_markdown(brief, decision))
    if kill.met:
        met = ", ".join(c.criterion.kind for c in kill.met)
        err.print(f"kill criteria met: {met}; stop or rethink the project", markup=False)
        raise typer.Exit(1)
