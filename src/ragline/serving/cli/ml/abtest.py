"""`ragline abtest ...`: size an A/B test, then decide ship / iterate / kill from its outcomes.

    ragline abtest design --baseline-rate 0.10 --mde 0.02 --daily-traffic 1000 --out plan.yaml
    ragline abtest analyze --outcomes outcomes.csv --plan plan.yaml --report abtest.md
    ragline abtest analyze --outcomes outcomes.csv --assignments-from-log   # arms from serving

Outcomes are one row per unit with an arm column, or, with `--assignments-from-log`, with a
request_id column that is joined to the arm `ragline serve` logged for that request
(`ragline.mltrack.monitor.request_log`, `monitor.request_log` in the settings); rows without one are
dropped.

The rule (min lift, alpha, power, baseline rate, mde, guardrails) comes from the `ab_test:` section
of `--brief` (`brief.yaml` in the current folder when it has one), with flags on top; `--guardrail`
flags replace the brief's guardrails. The statistics are `ragline.mltrack.method.abtest`'s. Exit
codes: design 0 done; analyze 0 ship, 1 iterate, kill or wait (not enough data yet); 2 bad input (a
missing file or column, an invalid rule), with a message that says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ragline.mltrack.errors import DataError
from ragline.serving.cli.common import err, exit_2_on, fail, out, read_table, settings_from

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import ValidationError

    from ragline.mltrack.method.abtest import AbTestPlan, AbTestResult
    from ragline.mltrack.method.abtest_rule import AbTestRule

abtest_app = typer.Typer(help="A/B tests: size a test, then decide ship / iterate / kill.")
DEFAULT_BRIEF = Path("brief.yaml")
_STYLE = {"ship": "bold green", "iterate": "yellow", "kill": "bold red", "wait": "dim"}

BriefOption = Annotated[
    Path | None, typer.Option(help="problem brief whose ab_test: section holds the rule")
]
AlphaOption = Annotated[float | None, typer.Option(help="significance level (0.05)")]
PowerOption = Annotated[float | None, typer.Option(help="power of the design (0.8)")]
BaselineOption = Annotated[
    float | None, typer.Option("--baseline-rate", help="control's expected rate, e.g. 0.10")
]
MdeOption = Annotated[
    float | None, typer.Option(help="minimum detectable effect, absolute: 0.02 = 10% -> 12%")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


def load_rule(path: Path) -> AbTestRule:
    """The `ab_test:` section of a brief YAML as an `AbTestRule` (DataError if absent/invalid)."""
    from pydantic import ValidationError

    from ragline.mltrack.method.abtest_rule import AbTestRule
    from ragline.mltrack.yaml_file import read_mapping

    data = read_mapping(path, DataError, "write one with `ragline frame`", "an ab_test: section")
    section = data.get("ab_test")
    if not isinstance(section, dict):
        raise DataError(
            f"{path} has no ab_test: mapping; add one (min_lift, alpha, power, baseline_rate, "
            "mde, guardrails) or give the rule as flags"
        )
    try:
        return AbTestRule.model_validate(section)
    except ValidationError as exc:
        raise DataError(f"{path} ab_test: {_explain(exc)}") from None


def _explain(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def _rule(brief: Path | None, flags: Mapping[str, object]) -> AbTestRule:
    """The brief's rule (explicit --brief, else ./brief.yaml if it has ab_test:) under flags."""
    from pydantic import ValidationError

    from ragline.mltrack.method.abtest_rule import AbTestRule

    base: dict[str, object] = {}
    if brief is not None:
        if not brief.is_file():
            raise fail(f"brief {brief} does not exist; give the brief.yaml `ragline frame` wrote")
        with exit_2_on(DataError, ValueError):
            base = load_rule(brief).model_dump()
    elif DEFAULT_BRIEF.is_file():
        try:
            base = load_rule(DEFAULT_BRIEF).model_dump()
            err.print(f"rule from {DEFAULT_BRIEF} (ab_test:), flags on top", markup=False)
        except DataError:
            base = {}  # a brief without ab_test: is not this command's business
    given = {key: value for key, value in flags.items() if value is not None}
    try:
        return AbTestRule.model_validate({**base, **given})
    except ValidationError as exc:
        raise fail(f"rule: {_explain(exc)} (fix the flag or the brief's ab_test:)") from None


def _guardrails(specs: list[str] | None) -> tuple[dict[str, object], ...] | None:
    """`--guardrail METRIC:MAX_REGRESSION[:higher]` flags as Guardrail mappings."""
    if not specs:
        return None
    parsed = []
    for spec in specs:
        parts = spec.split(":")
        try:
            if not 2 <= len(parts) <= 3 or (len(parts) == 3 and parts[2] != "higher"):
                raise ValueError(spec)
            limit = float(parts[1])
        except ValueError:
            raise fail(
                f"--guardrail {spec!r}: write METRIC:MAX_REGRESSION[:higher], e.g. "
                "latency_ms:0.10 or revenue:0.05:higher"
            ) from None
        parsed.append(
            {"metric": parts[0], "max_regression": limit, "higher_is_better": len(parts) == 3}
        )
    return tuple(parsed)


@abtest_app.command("design")
def design_cmd(
    baseline_rate: BaselineOption = None,
    mde: MdeOption = None,
    alpha: AlphaOption = None,
    power: PowerOption = None,
    daily_traffic: Annotated[
        int | None, typer.Option(min=1, help="visitors per day, both arms together")
    ] = None,
    brief: BriefOption = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="write the plan as YAML, e.g. abtest-plan.yaml")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sample size per arm and runtime (at least 7 days, whole weeks) of a two-arm test."""
    from ragline.mltrack.method.abtest import design

    flags = {"baseline_rate": baseline_rate, "mde": mde, "alpha": alpha, "power": power}
    rule = _rule(brief, flags)
    if rule.baseline_rate is None or rule.mde is None:
        raise fail("give --baseline-rate and --mde (or baseline_rate and mde in the brief)")
    with exit_2_on(DataError, ValueError):
        plan = design(rule.baseline_rate, rule.mde, rule.alpha, rule.power, daily_traffic)
    if out_path is not None:
        _write_plan(plan, out_path)
    if as_json:
        out.print_json(plan.model_dump_json())
        return
    out.print(
        f"[bold]{plan.n_per_arm:,}[/] per arm ({plan.total_n:,} in all), "
        f"runtime [bold]{plan.runtime_days}[/] days"
    )
    for reason in plan.reasons:
        out.print(f"  {reason}", markup=False)
    if out_path is not None:
        out.print(f"wrote {out_path}", markup=False)


def _write_plan(plan: AbTestPlan, path: Path) -> None:
    import yaml

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(plan.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc}; choose a writable --out path") from None


def _read_plan(path: Path) -> AbTestPlan:
    import yaml
    from pydantic import ValidationError

    from ragline.mltrack.method.abtest import AbTestPlan

    if not path.is_file():
        raise fail(f"plan {path} does not exist; write one with `ragline abtest design --out`")
    try:
        return AbTestPlan.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise fail(
            f"plan {path} is not a plan `ragline abtest design --out` wrote: {exc}"
        ) from None


def _arms_from_log(
    ctx: typer.Context, frame: pd.DataFrame, log_url: str | None, arm_column: str
) -> pd.DataFrame:
    """Join the outcomes' request_id to the arm serving logged for it; unlogged rows dropped."""
    from ragline.mltrack.monitor.request_log import RequestLogError, read_assignments

    if "request_id" not in frame.columns:
        raise fail("--assignments-from-log joins on a request_id column the outcomes lack")
    settings = settings_from(ctx)
    config = settings.monitor.request_log
    if log_url is not None:
        config = config.model_copy(update={"url": log_url})
    url = config.resolved_url(settings.data_dir)
    try:
        assignments = read_assignments(config, settings.data_dir)
    except RequestLogError as exc:
        raise fail(str(exc)) from None
    if not assignments:
        raise fail(
            f"the request log {url} holds no A/B arms: serve the test with a traffic split "
            "first, or give --outcomes with an arm column"
        )
    arms = frame["request_id"].astype(str).map(assignments)
    joined = frame.assign(**{arm_column: arms}).dropna(subset=[arm_column])
    err.print(f"{len(joined):,} of {len(frame):,} outcomes have a logged arm ({url})", markup=False)
    return joined


def _planned_n(rule: AbTestRule, plan_path: Path | None, given: int | None) -> int:
    from ragline.mltrack.method.abtest import planned_n

    if given is not None:
        return given
    if plan_path is not None:
        return _read_plan(plan_path).n_per_arm
    with exit_2_on(DataError, ValueError):
        derived = planned_n(rule)
    if derived is None:
        raise fail(
            "no planned sample size: give --plan abtest-plan.yaml (from `ragline abtest "
            "design`), --planned-n N, or --baseline-rate and --mde (or both in the brief)"
        )
    return derived


@abtest_app.command("analyze")
def analyze_cmd(
    ctx: typer.Context,
    outcomes: Annotated[
        Path, typer.Option(help="CSV/Parquet, one row per unit: arm (or request_id), outcomes")
    ],
    brief: BriefOption = None,
    plan: Annotated[Path | None, typer.Option(help="plan YAML from `abtest design`")] = None,
    planned_n: Annotated[int | None, typer.Option(min=1, help="rows needed per arm")] = None,
    primary: Annotated[str | None, typer.Option(help="0/1 column (converted)")] = None,
    min_lift: Annotated[float | None, typer.Option(help="relative lift to ship, 0.02")] = None,
    alpha: AlphaOption = None,
    power: PowerOption = None,
    baseline_rate: BaselineOption = None,
    mde: MdeOption = None,
    guardrail: Annotated[
        list[str] | None, typer.Option(help="METRIC:MAX_REGRESSION[:higher], repeatable")
    ] = None,
    arm_column: Annotated[str, typer.Option(help="column naming the arm")] = "arm",
    control: Annotated[str, typer.Option(help="control arm's name")] = "control",
    treatment: Annotated[str, typer.Option(help="treatment arm's name")] = "treatment",
    from_log: Annotated[
        bool, typer.Option("--assignments-from-log", help="arms from serving's request log")
    ] = False,
    log_url: Annotated[
        str | None, typer.Option(help="request log URL (monitor.request_log.url)")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="write a Markdown report")] = None,
    as_json: JsonOption = False,
) -> None:
    """Ship / iterate / kill (or wait for the planned size), with the reasons and numbers."""
    from ragline.mltrack.method.abtest import analyze

    flags = {
        "primary_metric": primary,
        "min_lift": min_lift,
        "alpha": alpha,
        "power": power,
        "baseline_rate": baseline_rate,
        "mde": mde,
        "guardrails": _guardrails(guardrail),
    }
    rule = _rule(brief, flags)
    needed = _planned_n(rule, plan, planned_n)
    frame = read_table(outcomes, "outcomes")
    if from_log:
        frame = _arms_from_log(ctx, frame, log_url, arm_column)
    with exit_2_on(DataError, ValueError):
        result = analyze(frame, rule, needed, arm_column, control, treatment)
    if report is not None:
        _write_report(result, report, outcomes)
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        _print_result(result)
    raise typer.Exit(0 if result.decision == "ship" else 1)


def _print_result(result: AbTestResult) -> None:
    from ragline.mltrack.method.abtest import format_p

    p = result.primary
    table = Table("arm", "rows", p.metric, "rate")
    for arm in (p.control, p.treatment):
        table.add_row(arm.name, f"{arm.n:,}", f"{arm.conversions:,}", f"{arm.rate:.2%}")
    out.print(table)
    if result.guardrails:
        guards = Table("guardrail", "control", "treatment", "worsening", "allowed", "p", "verdict")
        for g in result.guardrails:
            guards.add_row(
                g.metric,
                f"{g.control_mean:.4g}",
                f"{g.treatment_mean:.4g}",
                "-" if g.worsening is None else f"{g.worsening:+.1%}",
                f"{g.max_regression:.1%}",
                "-" if g.p_value is None else format_p(g.p_value),
                "regressed" if g.regressed else "held",
            )
        out.print(guards)
    style = _STYLE[result.decision]
    out.print(f"decision: [{style}]{result.decision}[/]")
    for reason in result.reasons:
        out.print(f"  {reason}", markup=False)


def render_markdown(result: AbTestResult, source: str) -> str:
    """The analysis as a Markdown report: decision, reasons, arms, guardrails, rule."""
    from ragline.mltrack.method.abtest import format_p

    p, rule = result.primary, result.rule
    ignored = f"; {result.ignored_rows:,} rows of other arms ignored" if result.ignored_rows else ""
    lines = [
        f"# A/B test: {p.treatment.name} vs {p.control.name}",
        "",
        f"**Decision: {result.decision}**",
        "",
        *(f"- {reason}" for reason in result.reasons),
        "",
        f"Outcomes: `{source}`; planned {result.planned_n:,} rows per arm{ignored}.",
        "",
        f"| arm | rows | {p.metric} | rate |",
        "|---|---:|---:|---:|",
    ]
    for a in (p.control, p.treatment):
        lines.append(f"| {a.name} | {a.n:,} | {a.conversions:,} | {a.rate:.2%} |")
    lines += [
        "",
        f"Difference {p.diff:+.4f} (CI {p.diff_ci[0]:+.4f} .. {p.diff_ci[1]:+.4f}), lift "
        f"{p.lift:+.2%} (CI {p.lift_ci[0]:+.2%} .. {p.lift_ci[1]:+.2%}), z {p.z:.3f}, "
        f"p {format_p(p.p_value)} (pooled two-proportion z-test, {1 - rule.alpha:.0%} CIs).",
    ]
    if result.guardrails:
        lines += ["", "| guardrail | control | treatment | worsening | allowed | p | verdict |"]
        lines.append("|---|---:|---:|---:|---:|---:|---|")
        for g in result.guardrails:
            worse = "-" if g.worsening is None else f"{g.worsening:+.2%}"
            p_value = "-" if g.p_value is None else format_p(g.p_value)
            verdict = "regressed" if g.regressed else "held"
            lines.append(
                f"| {g.metric} | {g.control_mean:.4g} | {g.treatment_mean:.4g} | {worse} | "
                f"{g.max_regression:.1%} | {p_value} | {verdict} |"
            )
    lines += [
        "",
        f"Rule: ship when the lift is above {rule.min_lift:+.1%} with p < {rule.alpha:g} and no "
        "guardrail regressed (one-sided Welch t-test against the allowed worsening).",
        "",
    ]
    return "\n".join(lines)


def _write_report(result: AbTestResult, path: Path, source: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_markdown(result, str(source)), encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc}; choose a writable --report path") from None
    err.print(f"wrote {path}", markup=False)
