"""`ragline features ...`: the feature registry, its offline store and its online store.

    ragline features add firm_invest_all_mean --dtype float64 --source-table grunfeld \\
        --entity-key firm --timestamp-column ts --owner ml-platform --description "..."
    ragline features list | validate | catalog --out docs/feature_catalog.md
    ragline features materialize events.csv --out offline.parquet      # Parquet feature rows
    ragline features join labels.csv --features offline.parquet --out train.parquet
    ragline features push offline.parquet                              # latest rows to Redis
    ragline features get "General Motors" --entity firm

The registry is `features.yaml` in the current folder unless `--registry` says otherwise.
Exit codes: 0 done; 1 nothing found (`get` of an entity the online store does not hold);
2 bad input (registry, table, column or name), with a message that says what to fix.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ragline.mltrack.errors import DataError
from ragline.mltrack.features.errors import FeatureError
from ragline.serving.cli.common import err, exit_2_on, fail, out, read_table

if TYPE_CHECKING:
    import pandas as pd

    from ragline.mltrack.features.registry import FeatureRegistry, SourceTable

features_app = typer.Typer(help="feature registry, offline store (Parquet), online store (Redis).")

RegistryOpt = Annotated[Path, typer.Option("--registry", help="the registry YAML file")]
RedisOpt = Annotated[str, typer.Option("--redis-url", help="the online store's Redis")]
PrefixOpt = Annotated[str, typer.Option(help="key prefix of the online store")]
REGISTRY = Path("features.yaml")
REDIS_URL = "redis://127.0.0.1:6379/0"
PREFIX = "ragline:features"


def _registry(path: Path) -> FeatureRegistry:
    from ragline.mltrack.features.registry import load_registry

    with exit_2_on(FeatureError, DataError):
        loaded = load_registry(path)
    return loaded


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        raise fail(f"--out {path}: unknown format {path.suffix!r}; use .csv or .parquet")


def _duration(text: str | None) -> timedelta | None:
    from ragline.mltrack.features.naming import window_delta

    if text is None:
        return None
    with exit_2_on(FeatureError, DataError):
        delta = window_delta(text)
    if delta is None:
        raise fail("--max-staleness all means no limit; leave the option out instead")
    return delta


def _new_source(
    current: FeatureRegistry, table: str, entity_key: str | None, timestamp_column: str | None
) -> SourceTable | None:
    """The source `add` registers with the feature: None for a table the registry knows."""
    from ragline.mltrack.features.registry import SourceTable

    if (entity_key is None) != (timestamp_column is None):
        raise fail("give both --entity-key and --timestamp-column (a new table), or neither")
    if entity_key is not None and timestamp_column is not None:
        return SourceTable(entity_key=entity_key, timestamp_column=timestamp_column)
    if table not in current.sources:
        raise fail(f"table {table!r} is new: give --entity-key and --timestamp-column")
    return None


@features_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="{entity}_{feature}_{window}_{aggregation}")],
    description: Annotated[str, typer.Option(help="what the value means")],
    dtype: Annotated[str, typer.Option(help="float64, int64, bool or string")],
    source_table: Annotated[str, typer.Option(help="the table the feature is computed from")],
    owner: Annotated[str, typer.Option(help="the team or person who answers for it")],
    source_column: Annotated[str | None, typer.Option(help="default: the name's feature")] = None,
    known_issue: Annotated[list[str] | None, typer.Option(help="repeat for several")] = None,
    entity_key: Annotated[str | None, typer.Option(help="new table: its entity id column")] = None,
    timestamp_column: Annotated[str | None, typer.Option(help="new table: its time column")] = None,
    created: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default today")] = None,
    registry: RegistryOpt = REGISTRY,
) -> None:
    """Register a feature (and its source table, the first time); the file is rewritten whole."""
    from pydantic import ValidationError

    from ragline.mltrack.features.registry import (
        FeatureDefinition,
        FeatureRegistry,
        save_registry,
        validation_messages,
    )

    current = _registry(registry) if registry.is_file() else FeatureRegistry()
    source = _new_source(current, source_table, entity_key, timestamp_column)
    try:
        definition = FeatureDefinition(
            name=name,
            description=description,
            dtype=dtype,
            source_table=source_table,
            source_column=source_column,
            owner=owner,
            known_issues=tuple(known_issue or ()),
            created=created or date.today(),
        )
    except ValidationError as exc:
        raise fail(validation_messages(exc)) from None
    with exit_2_on(FeatureError, DataError):
        updated = current.add(definition, source)
        save_registry(updated, registry)
    parsed = definition.parsed
    window = "all history" if parsed.window == "all" else f"a {parsed.window} window"
    out.print(
        f"added {name} to {registry}: {parsed.aggregation} of {source_table}."
        f"{definition.column} over {window} per {parsed.entity}, {definition.dtype}; "
        f"{len(updated.features)} features in the registry"
    )


@features_app.command("list")
def list_cmd(registry: RegistryOpt = REGISTRY) -> None:
    """The registered features, one line each."""
    loaded = _registry(registry)
    table = Table("feature", "dtype", "table.column", "owner", "created", "issues")
    for d in sorted(loaded.features, key=lambda d: d.name):
        table.add_row(
            d.name,
            d.dtype,
            f"{d.source_table}.{d.column}",
            d.owner,
            d.created.isoformat(),
            str(len(d.known_issues)),
        )
    out.print(table)
    out.print(f"{len(loaded.features)} features from {len(loaded.sources)} tables in {registry}")


@features_app.command("validate")
def validate_cmd(registry: RegistryOpt = REGISTRY) -> None:
    """Check every name, dtype and source of the registry; exit 2 with the first problem."""
    loaded = _registry(registry)
    for table, source in sorted(loaded.sources.items()):
        names = [d.name for d in loaded.for_source(table)]
        out.print(
            f"{table}: entity key {source.entity_key}, time {source.timestamp_column}, "
            f"{len(names)} features"
        )
    issues = sum(len(d.known_issues) for d in loaded.features)
    out.print(
        f"{registry} is valid: {len(loaded.features)} features, names follow "
        f"{{entity}}_{{feature}}_{{window}}_{{aggregation}}, {issues} known issues"
    )


@features_app.command("catalog")
def catalog_cmd(
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Markdown file; default stdout")
    ] = None,
    registry: RegistryOpt = REGISTRY,
) -> None:
    """The registry as a Markdown catalogue."""
    from ragline.mltrack.features.registry import catalog_markdown

    text = catalog_markdown(_registry(registry))
    if out_path is None:
        out.print(text, markup=False, end="")
        return
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    out.print(f"wrote the catalogue of {registry} to {out_path} ({len(text.splitlines())} lines)")


def _only_table(loaded: FeatureRegistry, table: str | None) -> str:
    if table is not None:
        return table
    if len(loaded.sources) != 1:
        raise fail(
            f"the registry has tables {', '.join(sorted(loaded.sources)) or 'none'}; "
            "say which one the events belong to with --table"
        )
    return next(iter(loaded.sources))


@features_app.command("materialize")
def materialize_cmd(
    events: Annotated[Path, typer.Argument(help="the source table's events, CSV/Parquet")],
    out_path: Annotated[Path, typer.Option("--out", help="the offline store, .parquet")],
    table: Annotated[str | None, typer.Option(help="source table; default the only one")] = None,
    registry: RegistryOpt = REGISTRY,
) -> None:
    """Compute every feature of the table at every event: the offline store's rows."""
    from ragline.mltrack.features.offline import materialize, write_offline

    loaded = _registry(registry)
    name = _only_table(loaded, table)
    started = time.perf_counter()
    frame = read_table(events, "events")
    with exit_2_on(FeatureError, DataError):
        offline = materialize(frame, loaded, name)
        write_offline(offline, out_path)
    rows = offline.rows
    out.print(
        f"{len(frame)} events of {rows[offline.entity_key].nunique()} "
        f"{offline.entity_key}s -> {len(rows)} feature rows (one per {offline.entity_key} "
        f"and event time; same-time events merged) x {len(offline.features)} features of "
        f"{name}, {rows['feature_ts'].min()} to {rows['feature_ts'].max()}; wrote "
        f"{out_path} in {time.perf_counter() - started:.2f} s"
    )


@features_app.command("join")
def join_cmd(
    labels: Annotated[Path, typer.Argument(help="label rows: entity key and label time")],
    features: Annotated[Path, typer.Option("--features", help="the offline store's Parquet")],
    out_path: Annotated[Path, typer.Option("--out", help="the training set, .parquet or .csv")],
    label_time: Annotated[str, typer.Option(help="the labels' time column")] = "label_ts",
    max_staleness: Annotated[str | None, typer.Option(help="e.g. 400d; default none")] = None,
) -> None:
    """Point-in-time join: each label gets the features known at its time, never later ones."""
    from ragline.mltrack.features.offline import point_in_time_join, read_offline

    staleness = _duration(max_staleness)
    started = time.perf_counter()
    frame = read_table(labels, "labels")
    with exit_2_on(FeatureError, DataError):
        offline = read_offline(features)
        result = point_in_time_join(frame, offline, label_time, staleness)
    _write(result.frame, out_path)
    limit = f"older than {max_staleness}" if staleness else "(no --max-staleness)"
    out.print(
        f"{len(frame)} labels x {len(offline.features)} features: {result.matched} got the "
        f"latest feature row at or before their {label_time}, {result.missing} had none "
        f"(left empty), {result.stale} {limit} (left empty); wrote {out_path} in "
        f"{time.perf_counter() - started:.2f} s"
    )


@features_app.command("push")
def push_cmd(
    features: Annotated[Path, typer.Argument(help="the offline store's Parquet")],
    redis_url: RedisOpt = REDIS_URL,
    prefix: PrefixOpt = PREFIX,
    registry: RegistryOpt = REGISTRY,
) -> None:
    """Write each entity's latest feature row to the online store (Redis)."""
    from ragline.mltrack.features.offline import read_offline
    from ragline.mltrack.features.online import OnlineStore, latest_per_entity

    loaded = _registry(registry)
    started = time.perf_counter()
    with exit_2_on(FeatureError, DataError):
        offline = read_offline(features)
        definitions = [loaded.get(name) for name in offline.features]
        latest = latest_per_entity(offline.rows, offline.entity_key)
        entity = definitions[0].parsed.entity
        with OnlineStore(redis_url, prefix) as store:
            written = store.write_rows(latest, offline.entity_key, entity, definitions)
    out.print(
        f"pushed the latest of {len(offline.rows)} feature rows: {written} {entity}s x "
        f"{len(definitions)} features to {redis_url} under {prefix}:{entity}:* in "
        f"{time.perf_counter() - started:.2f} s"
    )


@features_app.command("get")
def get_cmd(
    entity_id: Annotated[str, typer.Argument(help="the entity's id, as in the source table")],
    entity: Annotated[str, typer.Option(help="the entity, the names' first part (firm, user)")],
    names: Annotated[
        str | None, typer.Option("--features", help="comma-separated; default all")
    ] = None,
    max_staleness: Annotated[str | None, typer.Option(help="e.g. 400d; default none")] = None,
    redis_url: RedisOpt = REDIS_URL,
    prefix: PrefixOpt = PREFIX,
    registry: RegistryOpt = REGISTRY,
) -> None:
    """Serve one entity's features from the online store; exit 1 if it holds none."""
    from ragline.mltrack.features.online import OnlineStore

    loaded = _registry(registry)
    staleness = _duration(max_staleness)
    with exit_2_on(FeatureError, DataError):
        wanted = (
            [loaded.get(n.strip()) for n in names.split(",") if n.strip()]
            if names
            else loaded.for_entity(entity)
        )
        if not wanted:
            raise fail(f"no feature of entity {entity!r} in {registry}; `ragline features list`")
        with OnlineStore(redis_url, prefix) as store:
            store.ping()  # connect first: the timing below is the lookup alone
            started = time.perf_counter()
            row = store.read(entity, entity_id, wanted, max_staleness=staleness)
            ms = (time.perf_counter() - started) * 1000
    if row.feature_ts is None:
        err.print(
            f"{prefix}:{entity}:{entity_id} holds no features; `ragline features push` "
            "first, or check the id",
            markup=False,
        )
        raise typer.Exit(1)
    table = Table("feature", "value")
    for name, value in row.values.items():
        table.add_row(name, "-" if value is None else str(value))
    out.print(table)
    state = f"stale (older than {max_staleness}), served empty" if row.stale else "fresh"
    out.print(
        f"{entity} {entity_id}: {len(wanted)} features as of {row.feature_ts}, {state}; "
        f"one HMGET in {ms:.2f} ms"
    )
