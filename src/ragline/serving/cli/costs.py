"""`ragline costs ...`: what was spent, by model, day, route, key or component; one request's parts.

    ragline costs report --since 2026-11-01 --by day --chart costs.png --budget 200
    ragline costs report --by model --format csv > costs.csv   # + audited, false_hits, rate
    ragline costs report --truncated [--by purpose|model|route]  # finish_reason "length", caps
    ragline costs breakdown 4f0c... [--format json]       # llm / embedding / vector_db / total
    ragline costs export --since 2026-11-01 > events.jsonl  # every event, one JSON per line

Commands are thin: parse, ask `ragline.mltrack.costs.ledger.Ledger`, print. The ledger is the one
record of costs (every front door writes its events there, once); `export` is how to get them
out as JSON lines. Exit codes: 0 done; 1 a budget at "critical"; 2 bad usage (dates, format,
grouping, an unreachable ledger).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from rich.console import Console
from rich.table import Table

from ragline.serving.cli.common import settings_from

if TYPE_CHECKING:
    from ragline.mltrack.costs.ledger import GroupBy, Ledger, ReportRow
    from ragline.mltrack.costs.truncation import TruncationRow

costs_app = typer.Typer(help="what LLM calls, embeddings, vector DB and predictions cost.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
FORMATS = ("table", "csv", "json")
BREAKDOWN_FORMATS = ("table", "json")
AUDIT_COLUMNS = ("audited", "false_hits", "false_hit_rate")
# prompt tokens the providers' caches served, and what that saved against the input price
CACHE_COLUMNS = ("cached_in", "cache_saved_usd")
TRUNCATION_COLUMNS = ("calls", "truncated", "share", "p50", "p95", "max", "suggested_cap", "advice")
LedgerOption = Annotated[
    str | None, typer.Option("--ledger", help="ledger URL; default sqlite:///<data_dir>/ledger.db")
]


def _fail(message: str) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(2)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option} {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01") from None


@contextmanager
def _ledger(ctx: typer.Context, url: str | None) -> Iterator[Ledger]:
    """The configured ledger, closed after; its errors exit 2 with the message."""
    from ragline.mltrack.costs.ledger import Ledger, LedgerError

    settings = settings_from(ctx)
    config = settings.costs.ledger
    if url is not None:
        config = config.model_copy(update={"url": url})
    ledger = Ledger(config, settings.data_dir)
    try:
        yield ledger
    except LedgerError as exc:
        raise _fail(f"error: {exc}") from None
    finally:
        ledger.close()


@costs_app.command("report")
def report_cmd(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="day after the last, YYYY-MM-DD")] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="model | day | route | key | component; with --truncated: purpose | model | "
            "route (default model, with --truncated purpose)"
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    chart: Annotated[Path | None, typer.Option(help="also draw the report as a PNG")] = None,
    budget: Annotated[
        str | None,
        typer.Option(help="monthly budget in USD (default: costs.ledger.monthly_budget_usd)"),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="judge the budget at the end of this day (default: now)")
    ] = None,
    url: LedgerOption = None,
    truncated: Annotated[
        bool,
        typer.Option(
            "--truncated",
            help="model calls cut short by max_tokens (finish_reason length) per purpose, "
            "completion tokens p50/p95/max and a suggested llm.max_tokens cap",
        ),
    ] = False,
) -> None:
    """Events, tokens and dollars per group between --since and --until, with the semantic
    cache's false-hit audits (audited, false_hits, false_hit_rate) and the providers' prompt
    caches (cached_in tokens, cache_saved_usd at configs/pricing.yaml's rates); a budget line. With
    --truncated: the truncated-answers report instead (docs/llm_router.md "Reply caps")."""
    from ragline.mltrack.costs.ledger import GroupBy

    first, end = _date(since, "--since"), _date(until, "--until")
    if truncated:
        _truncated(ctx, (first, end), by or "purpose", fmt, url)
        return
    by = by or "model"
    groups: dict[str, GroupBy] = {g: g for g in get_args(GroupBy)}
    if by not in groups:
        raise _fail(f"--by {by!r}: use one of {', '.join(groups)}")
    if fmt not in FORMATS:
        raise _fail(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    monthly = _budget(budget)
    day = _date(as_of, "--as-of")
    now = datetime.now(UTC) if day is None else datetime.combine(day, time.max, UTC)
    with _ledger(ctx, url) as ledger:
        monthly = monthly if monthly is not None else ledger.config.monthly_budget_usd
        prices = settings_from(ctx).costs.prices().llm
        rows = ledger.report(first, end, groups[by], prices)
        status = ledger.budget_status(monthly, now) if monthly is not None else None
    out.print(_render(rows, fmt, by), markup=False, end="")
    if chart is not None:
        _chart(rows, by, chart)
        err.print(f"chart written to {chart}", markup=False)
    if status is not None:
        err.print(
            f"budget {status.level}: ${status.spent:.2f} of ${status.budget:.2f} this month, "
            f"${status.burn_per_day:.4f}/day, projected ${status.projected:.2f}",
            markup=False,
        )
        if status.level == "critical":
            raise typer.Exit(1)


@costs_app.command("breakdown")
def breakdown_cmd(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="the request id of one query")],
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    url: LedgerOption = None,
) -> None:
    """One request's cost by component (llm, embedding, vector_db, prediction) and its total.

    JSON: {"request_id", "components": {component: usd}, "total_usd"}, amounts as numbers (the
    same float as the API's `cost_usd` for the request)."""
    if fmt not in BREAKDOWN_FORMATS:
        raise _fail(f"--format {fmt!r}: use one of {', '.join(BREAKDOWN_FORMATS)}")
    with _ledger(ctx, url) as ledger:
        parts = ledger.breakdown(request_id)
    if not parts:
        raise _fail(f"no cost recorded for request {request_id!r}; check the id (X-Request-ID)")
    total = sum(parts.values(), Decimal(0))
    if fmt == "json":
        body = {
            "request_id": request_id,
            "components": {k: float(v) for k, v in parts.items()},
            "total_usd": float(total),
        }
        out.print(json.dumps(body), markup=False, highlight=False)
        return
    for component, usd in parts.items():
        out.print(f"{component:<11} ${usd:f}", markup=False)
    out.print(f"{'total':<11} ${total:f}", markup=False)


@costs_app.command("export")
def export_cmd(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="day after the last, YYYY-MM-DD")] = None,
    url: LedgerOption = None,
) -> None:
    """Every cost event between --since and --until as JSON lines (usd as a decimal string)."""
    first, end = _date(since, "--since"), _date(until, "--until")
    with _ledger(ctx, url) as ledger:
        events = ledger.events(first, end)
    for event in events:
        out.print(event.to_json(), markup=False, highlight=False, soft_wrap=True)
    err.print(f"{len(events)} events exported", markup=False)


def _truncated(
    ctx: typer.Context, window: tuple[date | None, date | None], by: str, fmt: str, url: str | None
) -> None:
    """``report --truncated``: read the model calls, count, print (`truncation_report`)."""
    from ragline.mltrack.costs.truncation import TruncationBy, truncation_report

    groups: dict[str, TruncationBy] = {g: g for g in get_args(TruncationBy)}
    if by not in groups:
        raise _fail(f"--by {by!r} with --truncated: use one of {', '.join(groups)}")
    if fmt not in FORMATS:
        raise _fail(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    with _ledger(ctx, url) as ledger:
        calls = ledger.completions(*window)
    rows = truncation_report(calls, groups[by])
    out.print(_render_truncated(rows, fmt, by), markup=False, end="")
    cut = sum(r.truncated for r in rows)
    err.print(f"{len(calls)} model calls, {cut} truncated (finish_reason length)", markup=False)


def _render_truncated(rows: list[TruncationRow], fmt: str, by: str) -> str:
    """The truncation report as a rich table, CSV or JSON (share rounded to 4 places)."""
    header = (by, *TRUNCATION_COLUMNS)
    fields = [
        (
            r.group,
            r.calls,
            r.truncated,
            _rounded(r.share),
            r.p50,
            r.p95,
            r.max,
            r.suggested,
            r.advice,
        )
        for r in rows
    ]
    if fmt == "json":
        return json.dumps([dict(zip(header, f, strict=True)) for f in fields], indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *fields])
        return buffer.getvalue()
    table = Table(*header)
    for group, calls, cut, share, *tokens, suggested, advice in fields:
        shown = "-" if share is None else f"{share:.1%}"
        cap = "-" if suggested is None else str(suggested)
        table.add_row(str(group), str(calls), str(cut), shown, *map(str, tokens), cap, str(advice))
    capture = Console(width=160, highlight=False)
    with capture.capture() as captured:
        capture.print(table)
    return captured.get()


def _rounded(share: float | None) -> float | None:
    return None if share is None else round(share, 4)


def _budget(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _fail(f"--budget {text!r} is not a number; give USD, e.g. 200") from None
    if not value.is_finite() or value <= 0:
        raise _fail(f"--budget {text!r}: give a positive amount in USD")
    return value


def _render(rows: list[ReportRow], fmt: str, by: str) -> str:
    """The report as a rich table, CSV or JSON: dollars as exact decimal strings, and the
    semantic-cache audits (hits re-checked against the model, those found false, their rate:
    empty / null / "-" where nothing was audited)."""
    header = (by, "events", "tokens_in", "tokens_out", "usd", *AUDIT_COLUMNS, *CACHE_COLUMNS)
    fields = [_fields(r) for r in rows]
    if fmt == "json":
        return json.dumps([dict(zip(header, f, strict=True)) for f in fields], indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")  # None is written as an empty field
        writer.writerows([header, *fields])
        return buffer.getvalue()
    table = Table(*header)
    for group, events, t_in, t_out, usd, audited, false_hits, rate, cached, saved in fields:
        shown = "-" if rate is None else f"{rate:.1%}"
        counts = (events, t_in, t_out)
        audits = (str(audited), str(false_hits), shown)
        table.add_row(group, *map(str, counts), f"${usd}", *audits, str(cached), f"${saved}")
    capture = Console(width=140, highlight=False)
    with capture.capture() as captured:
        capture.print(table)
        capture.print(_footer(rows), markup=False)
    return captured.get()


def _fields(row: ReportRow) -> tuple[str, int, int, int, str, int, int, float | None, int, str]:
    """A row's fields in `_render`'s header order (the rate rounded to 4 places)."""
    rate = None if row.false_hit_rate is None else round(row.false_hit_rate, 4)
    usage = (row.events, row.tokens_in, row.tokens_out, format(row.usd, "f"))
    cache = (row.cached_in, format(row.cache_saved, "f"))
    return (row.group, *usage, row.audited, row.false_hits, rate, *cache)


def _footer(rows: list[ReportRow]) -> str:
    """The totals line: events and dollars, and the audits when there were any."""
    total = sum((r.usd for r in rows), Decimal(0))
    line = f"{sum(r.events for r in rows)} events, ${total:f}"
    audited, false_hits = sum(r.audited for r in rows), sum(r.false_hits for r in rows)
    if audited:
        line += f"; semantic cache: {audited} hits audited, {false_hits} false"
        line += f" ({false_hits / audited:.1%})"
    cached = sum(r.cached_in for r in rows)
    if cached:
        saved = sum((r.cache_saved for r in rows), Decimal(0))
        line += f"; prompt cache: {cached} input tokens read, ${saved:f} saved"
    return line


def _chart(rows: list[ReportRow], by: str, path: Path) -> None:
    """A bar chart of dollars per group (Agg backend, no timestamps: same rows, same PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar([r.group for r in rows], [float(r.usd) for r in rows], color="#4477aa")
    axes.set_xlabel(by)
    axes.set_ylabel("USD")
    axes.set_title(f"cost by {by}")
    axes.tick_params(axis="x", labelrotation=45)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Software": None})
