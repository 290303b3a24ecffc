"""One typed settings tree: configs/default.yaml, then --config FILE, then RAGLINE_* env.

    settings = load_settings(Path("configs/prod.yaml"))
    settings.store.collection

Later sources win: a key in FILE overrides default.yaml, and `RAGLINE_CHUNKING__CHUNK_SIZE=256`
overrides both (nested keys joined by a double underscore). Unknown keys and bad values fail
at start-up with the key path and how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ragline.core.config_files import locate_config
from ragline.llm_router.config import LlmConfig
from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.costs.config import CostsConfig
from ragline.mltrack.monitor.config import MonitorConfig
from ragline.rag.answer import AnswerConfig
from ragline.rag.config import (
    ChunkingConfig,
    EmbeddingConfig,
    IngestConfig,
    SparseConfig,
    StoreConfig,
)
from ragline.rag.rerank import RerankConfig
from ragline.rag.retrieve import RetrievalConfig
from ragline.serving.conversations.config import ConversationsConfig
from ragline.serving.errors import ConfigError
from ragline.serving.serve_config import ServeConfig

ENV_PREFIX = "RAGLINE_"
# RAGLINE_* variables that are not settings keys.
ENV_NOT_SETTINGS = frozenset({"RAGLINE_CONFIG", "RAGLINE_REQUIRE_SERVICES"})
DEFAULT_FILE = Path("configs/default.yaml")
_YAML: ContextVar[dict[str, Any] | None] = ContextVar("ragline_yaml", default=None)


class Settings(BaseSettings):
    """The whole configuration of a ragline process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(Path(".ragline"), description="manifest, embedded stores, caches")
    chunking: ChunkingConfig = ChunkingConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    sparse: SparseConfig = SparseConfig()
    store: StoreConfig = StoreConfig()
    ingest: IngestConfig = IngestConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    rerank: RerankConfig = RerankConfig()
    llm: LlmConfig = LlmConfig()
    answer: AnswerConfig = AnswerConfig()
    serve: ServeConfig = ServeConfig()
    ml: MltrackConfig = MltrackConfig()
    costs: CostsConfig = CostsConfig()
    monitor: MonitorConfig = MonitorConfig()
    conversations: ConversationsConfig = ConversationsConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    def store_path(self) -> Path:
        """The Edge store directory; a relative `store.path` lives under `data_dir`."""
        path = self.store.path
        return path if path.is_absolute() else self.data_dir / path


def default_file() -> Path | None:
    """configs/default.yaml of the working directory, else of the source checkout."""
    found = locate_config(DEFAULT_FILE)
    return found if found.is_file() else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from default.yaml, `config_file` (or $RAGLINE_CONFIG), env, then `overrides`."""
    if config_file is None and os.environ.get("RAGLINE_CONFIG"):
        config_file = Path(os.environ["RAGLINE_CONFIG"])
    sources = [f for f in (default_file(), config_file) if f is not None]
    merged: dict[str, Any] = {}
    for source in sources:
        merged = deep_merge(merged, _read_yaml(source))
    _check_env(os.environ)
    token = _YAML.set(merged)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from None
    finally:
        _YAML.reset(token)


class _YamlSource(PydanticBaseSettingsSource):
    """The merged YAML files, below env in priority (pydantic-settings deep-merges sources)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_YAML.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_YAML.get() or {})


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing YAML file to --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping of settings (key: value)")
    return data


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `top` layered over it, nested mappings merged key by key."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _settings_env() -> list[str]:
    return [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in ENV_NOT_SETTINGS]


def _check_env(environ: Mapping[str, str]) -> None:
    """A RAGLINE_* variable that names no setting is a typo: say so instead of ignoring it."""
    for name in _settings_env():
        path = name.removeprefix(ENV_PREFIX).lower().split("__")
        model: type[BaseModel] = Settings
        for depth, part in enumerate(path):
            fields: dict[str, FieldInfo] = model.model_fields
            if part not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(
                    f"environment variable {name}: {'.'.join(path[: depth + 1])!r} is not a "
                    f"setting; known keys here: {known}"
                )
            annotation = fields[part].annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
            else:
                break


def _explain(exc: ValidationError, sources: list[Path]) -> str:
    where = ", ".join(str(s) for s in sources) or "defaults"
    lines = [f"invalid settings (from {where} and RAGLINE_* env):"]
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        env = ENV_PREFIX + "__".join(str(p).upper() for p in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"  {path}: unknown key; remove it or fix its spelling")
        else:
            got = error.get("input")
            lines.append(
                f"  {path}: {error['msg']} (got {got!r}); fix it in the YAML file or set {env}"
            )
    return "\n".join(lines)
