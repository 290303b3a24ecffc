"""Settings: default.yaml mirrors the code, layering order, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ragline.serving.errors import ConfigError
from ragline.serving.settings import Settings, default_file, load_settings
from tests.paths import REPO

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("RAGLINE_") and key != "RAGLINE_REQUIRE_SERVICES":
            monkeypatch.delenv(key)


def test_default_yaml_states_exactly_the_code_defaults() -> None:
    path = default_file()
    assert path is not None and path.resolve() == REPO / "configs" / "default.yaml"
    from_yaml = yaml.safe_load(path.read_text())
    from_code = Settings.model_construct().model_dump(mode="json")
    assert from_yaml == from_code


def test_env_overrides_the_file_and_the_file_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "team.yaml"
    config.write_text(
        "chunking:\n  chunk_size: 300\n  strategy: fixed_size\nstore:\n  collection: a\n"
    )
    monkeypatch.setenv("RAGLINE_CHUNKING__CHUNK_SIZE", "256")
    settings = load_settings(config)
    assert settings.chunking.chunk_size == 256  # env beats the file
    assert settings.chunking.strategy == "fixed_size"  # the file beats the default
    assert settings.chunking.chunk_overlap == 50  # untouched default survives the merge
    assert settings.store.collection == "a"


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("ingest:\n  workers: 3\n")
    monkeypatch.setenv("RAGLINE_CONFIG", str(config))
    assert load_settings().ingest.workers == 3


def test_unknown_key_names_its_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("chunking:\n  chunk_sise: 300\n")
    with pytest.raises(ConfigError, match=r"chunking\.chunk_sise: unknown key"):
        load_settings(config)


def test_bad_value_names_the_key_and_the_env_var(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("chunking:\n  chunk_size: -5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "chunking.chunk_size" in message and "RAGLINE_CHUNKING__CHUNK_SIZE" in message
    assert "-5" in message


def test_overlap_must_be_below_size(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("chunking:\n  chunk_size: 40\n  chunk_overlap: 40\n")
    with pytest.raises(ConfigError, match=r"chunk_overlap .* must be smaller"):
        load_settings(config)


def test_unknown_env_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_CHUNKNG__CHUNK_SIZE", "3")
    with pytest.raises(ConfigError, match=r"RAGLINE_CHUNKNG__CHUNK_SIZE.*not a setting"):
        load_settings()


def test_server_backend_needs_a_url() -> None:
    with pytest.raises(ConfigError, match=r"store\.url"):
        load_settings(store={"backend": "server"})


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("chunking: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(broken)


def test_secrets_stay_out_of_reprs_and_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_STORE__API_KEY", "sk-very-secret")
    settings = load_settings(store={"backend": "server", "url": "http://localhost:6333"})
    assert settings.store.api_key is not None
    assert settings.store.api_key.get_secret_value() == "sk-very-secret"
    assert "sk-very-secret" not in repr(settings)
    assert "sk-very-secret" not in settings.model_dump_json()


def test_relative_store_path_lives_under_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    assert settings.store_path() == tmp_path / "qdrant"
