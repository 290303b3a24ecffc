"""The feature registry: `features.yaml` under the project folder, typed and validated.

    registry = load_registry(Path("features.yaml"))
    registry.for_source("grunfeld")                  # the definitions computed from one table
    registry = registry.add(definition)              # a new registry; the file is unchanged
    save_registry(registry, Path("features.yaml"))   # written atomically
    Path("catalog.md").write_text(catalog_markdown(registry))

The file has two sections. `sources` names each source table once, with the column that holds
the entity id and the one that holds the event time; `features` lists the definitions:

    sources:
      grunfeld: {entity_key: firm, timestamp_column: ts}
    features:
      - name: firm_invest_all_mean       # {entity}_{feature}_{window}_{aggregation}
        description: mean yearly gross investment since the first year on record
        dtype: float64
        source_table: grunfeld
        source_column: invest            # defaults to the name's {feature} part
        owner: ml-platform
        created: 2026-11-26
        known_issues: [1943-1945 are war years]

Window and aggregation are read from the name, so a name can never lie about its computation.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragline.mltrack.features.errors import RegistryError
from ragline.mltrack.features.naming import FeatureName, parse_feature_name

Dtype = Literal["float64", "int64", "bool", "string"]
# The dtypes each aggregation can produce: count counts, mean/std divide, last keeps the value.
_ALLOWED: dict[str, tuple[str, ...]] = {
    "count": ("int64",),
    "mean": ("float64",),
    "std": ("float64",),
    "sum": ("float64", "int64"),
    "min": ("float64", "int64"),
    "max": ("float64", "int64"),
    "last": ("float64", "int64", "bool", "string"),
}


class SourceTable(BaseModel):
    """Where a table's events keep their entity id and their time.

    Example:
        >>> SourceTable(entity_key="firm", timestamp_column="ts").entity_key
        'firm'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_key: str = Field(min_length=1)
    timestamp_column: str = Field(min_length=1)
    description: str = ""


class FeatureDefinition(BaseModel):
    """One registered feature: what it means, who owns it, and how it is computed.

    Example:
        >>> d = FeatureDefinition(name="firm_invest_3w_sum", description="d", dtype="float64",
        ...     source_table="grunfeld", owner="me", created=date(2026, 1, 1))
        >>> (d.column, d.parsed.window, d.parsed.aggregation)
        ('invest', '3w', 'sum')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = Field(min_length=1)
    dtype: Dtype
    source_table: str = Field(min_length=1)
    source_column: str | None = None
    owner: str = Field(min_length=1)
    created: date
    known_issues: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        parsed = parse_feature_name(self.name)  # FeatureNameError is a ValueError
        allowed = _ALLOWED[parsed.aggregation]
        if self.dtype not in allowed:
            raise ValueError(
                f"{self.name}: aggregation {parsed.aggregation!r} produces "
                f"{' or '.join(allowed)}, not {self.dtype}; set dtype: {allowed[0]}"
            )
        return self

    @property
    def parsed(self) -> FeatureName:
        return parse_feature_name(self.name)

    @property
    def column(self) -> str:
        """The source column the feature aggregates (the name's feature part by default)."""
        return self.source_column or self.parsed.feature


class FeatureRegistry(BaseModel):
    """All sources and feature definitions of one project, checked as a whole.

    Example:
        >>> reg = FeatureRegistry(sources={"t": SourceTable(entity_key="u", timestamp_column="ts")})
        >>> reg.names()
        []
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[str, SourceTable] = Field(default_factory=dict)
    features: tuple[FeatureDefinition, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[str] = set()
        entities: dict[str, str] = {}
        for definition in self.features:
            if definition.name in seen:
                raise ValueError(f"feature {definition.name} is defined twice; keep one")
            seen.add(definition.name)
            if definition.source_table not in self.sources:
                raise ValueError(
                    f"feature {definition.name}: source_table {definition.source_table!r} is "
                    f"not under sources ({', '.join(sorted(self.sources)) or 'none'}); add it "
                    "there with its entity_key and timestamp_column"
                )
            entity = entities.setdefault(definition.source_table, definition.parsed.entity)
            if entity != definition.parsed.entity:
                raise ValueError(
                    f"feature {definition.name}: table {definition.source_table!r} holds "
                    f"{entity!r} events (one entity per table), so name it {entity}_..."
                )
        return self

    def names(self) -> list[str]:
        return [d.name for d in self.features]

    def get(self, name: str) -> FeatureDefinition:
        for definition in self.features:
            if definition.name == name:
                return definition
        raise RegistryError(f"no feature {name!r} in the registry; `ragline features list`")

    def for_source(self, table: str) -> list[FeatureDefinition]:
        if table not in self.sources:
            raise RegistryError(
                f"no source table {table!r} in the registry; known: "
                f"{', '.join(sorted(self.sources)) or 'none'}"
            )
        return [d for d in self.features if d.source_table == table]

    def for_entity(self, entity: str) -> list[FeatureDefinition]:
        return [d for d in self.features if d.parsed.entity == entity]

    def add(
        self, definition: FeatureDefinition, source: SourceTable | None = None
    ) -> FeatureRegistry:
        """A registry with `definition` (and its source, when new) added; checked as a whole."""
        sources = dict(self.sources)
        if source is not None:
            known = sources.get(definition.source_table)
            if known is not None and known != source:
                raise RegistryError(
                    f"source {definition.source_table!r} already has entity_key "
                    f"{known.entity_key!r} and timestamp_column {known.timestamp_column!r}; "
                    "leave the source options out, or register the table under another name"
                )
            sources[definition.source_table] = source
        data = {"sources": sources, "features": [*self.features, definition]}
        return _validated(data, "the new feature")


def validation_messages(exc: ValidationError) -> str:
    """Pydantic's errors as `location: message; ...` (no location for whole-model errors)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _validated(data: object, origin: str) -> FeatureRegistry:
    try:
        return FeatureRegistry.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(f"{origin}: {validation_messages(exc)}") from None


def load_registry(path: Path) -> FeatureRegistry:
    """Read and validate `path`; `RegistryError` lists every problem with its location."""
    if not path.is_file():
        raise RegistryError(
            f"no feature registry at {path}; create it with `ragline features add` "
            "or copy configs/features/example.yaml"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path} is not valid YAML: {exc}") from None
    return _validated(data if data is not None else {}, str(path))


def registry_yaml(registry: FeatureRegistry) -> str:
    """The registry as YAML, keys in a stable order, defaults left out."""
    data = registry.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("sources", {})
    for feature in data.get("features", []):
        feature["created"] = date.fromisoformat(feature["created"])  # unquoted in the YAML
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def save_registry(registry: FeatureRegistry, path: Path) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(registry_yaml(registry))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def catalog_markdown(registry: FeatureRegistry) -> str:
    """A Markdown catalogue: one section per source table, one row per feature, then issues."""
    lines = [
        "# Feature catalogue",
        "",
        f"{len(registry.features)} features, {len(registry.sources)} source tables.",
        "",
    ]
    for table in sorted(registry.sources):
        source = registry.sources[table]
        lines += [
            f"## {table}",
            "",
            f"Entity key `{source.entity_key}`, event time "
            f"`{source.timestamp_column}`. {_cell(source.description)}".rstrip(),
            "",
        ]
        lines += [
            "| feature | dtype | column | window | aggregation | owner | created | description |",
            "|---|---|---|---|---|---|---|---|",
        ]
        definitions = sorted(registry.for_source(table), key=lambda d: d.name)
        for d in definitions:
            p = d.parsed
            lines.append(
                f"| `{d.name}` | {d.dtype} | `{d.column}` | {p.window} | {p.aggregation} | "
                f"{_cell(d.owner)} | {d.created.isoformat()} | {_cell(d.description)} |"
            )
        issues = [(d.name, issue) for d in definitions for issue in d.known_issues]
        lines += ["", "Known issues:" if issues else "Known issues: none recorded.", ""]
        lines += [f"- `{name}`: {_cell(issue)}" for name, issue in issues]
        if issues:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
