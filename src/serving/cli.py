"""The `ragline` command line. Commands are thin: parse, build from settings, run, print.

Exit codes: 0 done; 1 done, but some input failed (listed); 2 bad usage or settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from serving.errors import ConfigError
from serving.search_cmd import search_command
from serving.settings import Settings, load_settings

app = typer.Typer(
    help="ragline: ingest documents into Qdrant, offline by default.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML settings file layered over configs/default.yaml"),
]
CollectionOption = Annotated[
    str | None, typer.Option("--collection", help="collection name (default: store.collection)")
]


def _settings(ctx: typer.Context, **overrides: object) -> Settings:
    try:
        return load_settings(ctx.obj, **overrides)
    except ConfigError as exc:
        err.print(f"[bold red]config error:[/] {exc}", markup=True)
        raise typer.Exit(2) from None


@app.callback()
def _main(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = config


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="files or folders to ingest")],
    collection: CollectionOption = None,
    strategy: Annotated[
        str | None, typer.Option(help="chunking: fixed_size | recursive | semantic")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="processes that load and chunk files")] = None,
) -> None:
    """Load, chunk, embed and store files; unchanged files are skipped, changed ones replaced."""
    from rag.errors import RagError
    from serving.console import IngestProgress, print_report
    from serving.wiring import build_ingestor, build_store

    overrides: dict[str, object] = {}
    if strategy:
        overrides["chunking"] = {"strategy": strategy}
    if workers:
        overrides["ingest"] = {"workers": workers}
    settings = _settings(ctx, **overrides)
    store = build_store(settings, collection)
    try:
        with IngestProgress(err) as progress:
            report = build_ingestor(settings, store, progress).run(paths)
    except RagError as exc:
        err.print(f"ingest failed: {exc}", markup=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    print_report(out, report, store.collection, settings.store.backend)
    raise typer.Exit(1 if report.failed else 0)


@app.command()
def collections(ctx: typer.Context) -> None:
    """List collections with their point and file counts."""
    from serving.wiring import build_manifest, build_store

    settings = _settings(ctx)
    names = build_store(settings).list_collections()
    if not names:
        out.print("no collections yet; run: ragline ingest PATH")
        return
    out.print(f"{'collection':<24} {'points':>10} {'files':>8}")
    for name in names:
        store = build_store(settings, name)
        points = store.count()
        store.close()
        files = len(build_manifest(settings, name).entries())
        out.print(f"{name:<24} {points:>10} {files:>8}")


@app.command()
def delete(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option(help="source_document name or file path to remove")
    ] = None,
    collection: CollectionOption = None,
    drop: Annotated[bool, typer.Option("--all", help="drop the whole collection")] = False,
) -> None:
    """Remove one source's chunks (or, with --all, the whole collection)."""
    from rag.ingest.pipeline import reconcile
    from rag.store.filters import source_filter
    from serving.wiring import build_manifest, build_store

    if (source is None) == (not drop):
        err.print("give exactly one of --source S or --all")
        raise typer.Exit(2)
    settings = _settings(ctx)
    store = build_store(settings, collection)
    manifest = build_manifest(settings, store.collection)
    if not store.exists():
        err.print(f"collection {store.collection!r} does not exist; see: ragline collections")
        raise typer.Exit(1)
    if drop:
        points = store.count()
        store.drop()
        manifest.forget()
        out.print(f"dropped collection {store.collection} ({points} points)")
        return
    assert source is not None
    as_path = str(Path(source).resolve()) if Path(source).exists() else source
    removed = store.delete(source_filter(source)) + (
        store.delete(source_filter(as_path)) if as_path != source else 0
    )
    reconcile(manifest, store)
    store.close()
    out.print(f"removed {removed} chunks of {source} from {store.collection}")
    raise typer.Exit(0 if removed else 1)


app.command("search")(search_command)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="the question to answer from the collection")],
    provider: Annotated[
        str | None,
        typer.Option(help="ask this model alone, e.g. extractive | local | openai:gpt-4o-mini"),
    ] = None,
    collection: CollectionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Answer a question from a collection, with verified citations (or abstain)."""
    from llm_router.errors import ProviderError
    from serving.ask_cmd import relevance_scored, run_ask
    from serving.search_cmd import build_retriever
    from serving.wiring import build_chat_router

    settings = _settings(ctx)
    retriever = build_retriever(settings, settings.retrieval, collection)
    if not retriever.store.exists():
        err.print(f"collection {retriever.store.collection!r} does not exist; ingest into it first")
        raise typer.Exit(2)
    try:
        router = build_chat_router(settings, provider)
        code = run_ask(
            question,
            lambda q: relevance_scored(retriever, q),
            router,
            settings.answer,
            out,
            err,
            as_json=as_json,
        )
        router.close()
    except ProviderError as exc:
        err.print(f"[bold red]model error:[/] {exc}")
        code = 2
    finally:
        retriever.store.close()
    raise typer.Exit(code)


@app.command()
def chat(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="what to ask the model")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="provider:model, e.g. openai:gpt-4o-mini (default: llm)"
        ),
    ] = None,
    system: Annotated[str | None, typer.Option(help="a system prompt")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="answer length limit")] = 512,
    stream: Annotated[bool, typer.Option("--stream", help="print the answer as it comes")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Send one prompt through the LLM router; prints the answer, tokens, cost and cache."""
    from llm_router.errors import ProviderError
    from serving.chat_cmd import run_chat
    from serving.wiring import build_chat_router

    settings = _settings(ctx)
    try:
        router = build_chat_router(settings, model)
    except ProviderError as exc:
        err.print(f"[bold red]model error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        code = run_chat(
            router, prompt, out, err,
            system=system, max_tokens=max_tokens, stream=stream, as_json=as_json,
        )  # fmt: skip
    finally:
        router.close()
    raise typer.Exit(code)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to bind (default: serve.host)")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="default: serve.port; 0 picks a free one")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="processes (default: serve.workers)")
    ] = None,
) -> None:
    """Run the HTTP API: /v1 chat, query, search, ingest; /health, /ready, /metrics."""
    from serving.serve_cmd import run_server

    settings = _settings(ctx)
    bind = settings.serve
    try:
        run_server(
            settings,
            host or bind.host,
            bind.port if port is None else port,
            workers or bind.workers,
            ctx.obj,
        )
    except ConfigError as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(2) from None


@app.command("eval")
def eval_suite(
    ctx: typer.Context,
    suite: Annotated[Path, typer.Argument(help="suite file, e.g. configs/evals/manpages.yaml")],
    baseline: Annotated[
        Path | None, typer.Option(help="an earlier run folder (its report.json) to compare with")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="report folder (default data_dir/eval_runs/RUN)")
    ] = None,
    track: Annotated[
        bool, typer.Option("--track/--no-track", help="record the run as an mltrack experiment")
    ] = True,
) -> None:
    """Run an evaluation suite: metrics with 95% CIs, gates, report.md and report.json."""
    from serving.eval_cmd import eval_exit_code, print_summary, run_eval
    from serving.eval_measure import EvalUsageError

    settings = _settings(ctx)
    try:
        run = run_eval(suite, settings, err, baseline_dir=baseline, out_dir=out_dir, track=track)
    except EvalUsageError as exc:
        err.print(f"eval refused: {exc}", markup=False)
        raise typer.Exit(2) from None
    print_summary(run, out)
    raise typer.Exit(eval_exit_code(run.report))


@app.command()
def synthesize(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Option("--out", help="golden JSONL file to write")],
    collection: CollectionOption = None,
    n: Annotated[int, typer.Option("--n", min=1, help="questions to ask for")] = 50,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="provider:model, e.g. openai:gpt-4o-mini (default: llm)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="which chunks are sampled")] = 0,
    workers: Annotated[int, typer.Option(min=1, max=64, help="model calls in flight")] = 1,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out")] = False,
) -> None:
    """Draft golden questions from a collection's chunks (marked synthetic: review them)."""
    from serving.synth_cmd import SynthOptions, SynthUsageError, run_synthesize

    settings = _settings(ctx)
    options = SynthOptions(out_path, collection, n, model, seed, workers, force)
    try:
        code = run_synthesize(settings, options, out, err)
    except SynthUsageError as exc:
        err.print(f"synthesize refused: {exc}", markup=False)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("hash-key")
def hash_key(
    name: Annotated[str, typer.Option(help="the key's name (logs, limits, A/B)")] = "client",
    new: Annotated[bool, typer.Option("--new", help="make a strong key and show it once")] = False,
) -> None:
    """Print the serve.api_keys line for a key read from stdin (or a new one, with --new)."""
    import sys

    from serving.serve_cmd import hash_key as run_hash_key

    raise typer.Exit(run_hash_key(name, new, sys.stdin, sys.stdout, sys.stderr))


def _add_ml() -> None:
    # imported here: ml_cli's own imports stay lazy, so `ragline --help` starts fast
    from serving.abtest_cli import abtest_app
    from serving.costs_cli import costs_app
    from serving.deploy_cli import deploy_app
    from serving.features_cli import features_app
    from serving.frame_cli import frame_command
    from serving.ml_cli import ml_app
    from serving.monitor_cli import monitor_app
    from serving.score_cli import score_command
    from serving.suggest_cmd import suggest_command

    app.command("score")(score_command)
    app.command("frame")(frame_command)
    app.add_typer(ml_app, name="ml")
    app.add_typer(costs_app, name="costs")
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(abtest_app, name="abtest")
    app.add_typer(features_app, name="features")
    app.add_typer(deploy_app, name="deploy")
    ml_app.command("suggest")(suggest_command)


_add_ml()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
