"""`ragline search`: ranked chunks for a query, or for a JSONL file of queries in one process.

    ragline search "why does dough rise?" --filter page_number>=2 --k 5
    ragline search "yeast" --mode sparse --json          # one JSON object per hit
    ragline search --queries golden.jsonl --json         # {"id", "text"} per line in,
                                                         # {"query_id", "results"} per line out

The work is `ragline.rag.search.search` (retrieve, rerank when rerank.model is set), metered
under one cost scope. Exit codes: 0 done (even with no results); 2 bad usage, bad filter,
missing collection or a model that fails.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ragline.core.index import Hit
from ragline.core.types import JsonValue
from ragline.rag.filter_parse import ACCEPTED_FORMS, parse_filters
from ragline.rag.rerank import NoReranker, Reranker, make_reranker
from ragline.rag.retrieve import MODES, Mode, RetrievalConfig, Retriever
from ragline.rag.search import QueryResult, search
from ragline.serving.cli.common import cost_line, fail, out, settings_from

SNIPPET_CHARS = 240


def read_queries(path: Path) -> list[tuple[str, str]]:
    """(id, text) per line of a JSONL file of {"id", "text"}; ValueError names the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read queries file {path}: {exc}") from None
    queries: list[tuple[str, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f'{path}:{number}: expected {{"id": ..., "text": "a question"}}')
        queries.append((str(record.get("id", number)), text))
    if not queries:
        raise ValueError(f"{path} holds no queries; write one JSON object per line")
    return queries


def hit_record(hit: Hit, rank: int) -> dict[str, JsonValue]:
    """A hit as JSON: rank, chunk_id, score, then the stored payload (text included)."""
    record: dict[str, JsonValue] = {"rank": rank, "chunk_id": hit.id, "score": hit.score}
    record.update({k: v for k, v in hit.payload.items() if k not in record})
    return record


def search_command(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(help="what to search for")] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", help="collection name (default: store.collection)")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="dense | sparse | hybrid (default: retrieval.mode)")
    ] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", "-f", help=f"payload filter, repeatable (AND): {ACCEPTED_FORMS}"),
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", "-k", min=1, help="results per query (retrieval.top_k)")
    ] = None,
    queries_file: Annotated[
        Path | None, typer.Option("--queries", help='JSONL of {"id", "text"}: run them all')
    ] = None,
    per_document: Annotated[
        int | None,
        typer.Option(
            "--per-document",
            min=0,
            help="most chunks of one document among the results, 0: no cap "
            "(retrieval.per_document)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of text")] = False,
    rerank: Annotated[
        bool, typer.Option("--rerank/--no-rerank", help="rerank when rerank.model is set")
    ] = True,
) -> None:
    """Search a collection: ranked chunks with scores, sources and snippets."""
    from ragline.core.costs import cost_scope
    from ragline.rag.errors import RagError
    from ragline.serving.wiring import Accounting, build_retriever, build_store

    settings = settings_from(ctx)
    queries = _queries(query, queries_file)
    try:
        search_filter = parse_filters(filters or [])
    except ValueError as exc:
        _fail(str(exc))
    retrieval = settings.retrieval.model_copy(
        update={"mode": _mode(mode or settings.retrieval.mode)}
    )
    with Accounting(settings) as costs, cost_scope() as scope:
        store = build_store(settings, collection, costs)
        try:
            if not store.exists():
                _fail(
                    f"collection {store.collection!r} does not exist; ingest into it first "
                    f"(ragline ingest PATH --collection {store.collection}) or see: "
                    "ragline collections"
                )
            retriever = build_retriever(settings, retrieval, store, costs)
            reranker = make_reranker(settings.rerank) if rerank else NoReranker()
            load_seconds = _warm_up(retriever, reranker)
            started = time.perf_counter()
            limit = k or retrieval.top_k
            results = search(retriever, reranker, queries, search_filter, limit, per_document)
            elapsed_ms = (time.perf_counter() - started) * 1000
        except (RagError, ValueError) as exc:
            _fail(str(exc))
        finally:
            store.close()
    if as_json:
        _print_json(results, single=queries_file is None)
    else:
        _print_human(results, store.collection, retrieval, reranker, elapsed_ms, load_seconds)
        out.print(cost_line(scope), markup=False)


def _fail(message: str) -> NoReturn:
    raise fail(f"search failed: {message}")


def _queries(query: str | None, queries_file: Path | None) -> list[tuple[str, str]]:
    if (query is None) == (queries_file is None):
        _fail('give exactly one of a QUERY argument or --queries FILE.jsonl ({"id", "text"})')
    if queries_file is not None:
        try:
            return read_queries(queries_file)
        except ValueError as exc:
            _fail(str(exc))
    if query is None or not query.strip():
        _fail("the query is empty; give it some words")
    return [("1", query)]


def _mode(value: str) -> Mode:
    for mode in MODES:
        if value == mode:
            return mode
    _fail(f"--mode must be one of {', '.join(MODES)}; got {value!r}")


def _warm_up(retriever: Retriever, reranker: Reranker) -> float:
    """Load the models before timing the search; seconds spent loading."""
    started = time.perf_counter()
    if retriever.config.mode != "sparse":
        warm = getattr(retriever.embedder, "warm_up", None)
        if callable(warm):
            warm()
    warm = getattr(reranker, "warm_up", None)
    if callable(warm):
        warm()
    return time.perf_counter() - started


def _print_json(results: list[QueryResult], single: bool) -> None:
    for result in results:
        records = [hit_record(hit, i) for i, hit in enumerate(result.hits, 1)]
        if single:
            for record in records:
                typer.echo(json.dumps(record, ensure_ascii=False))
        else:
            line = {"query_id": result.query_id, "query": result.text, "results": records}
            typer.echo(json.dumps(line, ensure_ascii=False))


def _print_human(
    results: list[QueryResult],
    collection: str,
    retrieval: RetrievalConfig,
    reranker: Reranker,
    elapsed_ms: float,
    load_seconds: float,
) -> None:
    how = retrieval.mode + (f" ({retrieval.fusion})" if retrieval.mode == "hybrid" else "")
    if not isinstance(reranker, NoReranker):
        how += ", reranked"
    for result in results:
        label = f"[{result.query_id}] " if len(results) > 1 else ""
        out.print(f"{label}{result.text!r} in {collection}: {how}", markup=False)
        if not result.hits:
            out.print("  no results")
        for rank, hit in enumerate(result.hits, 1):
            out.print(f"{rank:>3}. {hit.score:.4f}  {_where(hit)}", markup=False)
            out.print(f"     {_snippet(hit)}", markup=False)
    per_query = f" ({elapsed_ms / len(results):.1f} ms/query)" if len(results) > 1 else ""
    load = f"; model load {load_seconds:.1f} s" if load_seconds >= 0.05 else ""
    out.print(
        f"{len(results)} quer{'y' if len(results) == 1 else 'ies'} in {elapsed_ms:.0f} ms"
        f"{per_query}{load}",
        markup=False,
    )


def _where(hit: Hit) -> str:
    payload = hit.payload
    parts = [str(payload.get("source_document", "?"))]
    if payload.get("page_number") is not None:
        parts.append(f"page {payload['page_number']}")
    if payload.get("section_heading"):
        parts.append(f"§ {payload['section_heading']}")
    if payload.get("chunk_index") is not None:
        parts.append(f"chunk {payload['chunk_index']}")
    return "  ".join(parts)


def _snippet(hit: Hit) -> str:
    text = " ".join(str(hit.payload.get("text", "")).split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
