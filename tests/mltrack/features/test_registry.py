"""features.yaml: validation as a whole, add/save/load round trips, the Markdown catalogue."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ragline.mltrack.features.errors import RegistryError
from ragline.mltrack.features.registry import (
    FeatureDefinition,
    FeatureRegistry,
    SourceTable,
    catalog_markdown,
    load_registry,
    save_registry,
)
from tests.paths import REPO

pytestmark = pytest.mark.unit
EXAMPLE = REPO / "configs" / "features" / "example.yaml"


def _definition(name: str, dtype: str = "float64", **extra: object) -> FeatureDefinition:
    fields: dict[str, object] = {
        "name": name,
        "description": "d",
        "dtype": dtype,
        "source_table": "events",
        "owner": "me",
        "created": date(2026, 1, 2),
    }
    return FeatureDefinition.model_validate(fields | extra)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "features.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_registry_loads() -> None:
    registry = load_registry(EXAMPLE)
    assert len(registry.features) == 8
    assert registry.sources["grunfeld"].entity_key == "firm"
    assert len(registry.for_source("grunfeld")) == 8
    assert registry.get("firm_years_all_count").column == "invest"  # source_column given
    assert registry.get("firm_value_all_max").column == "value"  # from the name
    assert registry.get("firm_invest_all_mean").known_issues


def test_dtype_must_fit_the_aggregation(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("dtype: int64", "dtype: float64")
    with pytest.raises(RegistryError) as caught:
        load_registry(_write(tmp_path, text))
    assert "firm_years_all_count" in str(caught.value)
    assert "set dtype: int64" in str(caught.value)


def test_a_bad_name_in_the_file_is_located(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("firm_value_all_max", "firm_value_ever_max")
    with pytest.raises(RegistryError) as caught:
        load_registry(_write(tmp_path, text))
    message = str(caught.value)
    assert "features.4" in message and "ever" in message and "7d" in message


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        (
            "source_table: grunfeld\n    owner: ml-platform\n    created: 2026-11-26\n"
            "    known_issues:\n      - Firms",
            "source_table: gruenfeld\n    owner: ml-platform\n    created: "
            "2026-11-26\n    known_issues:\n      - Firms",
            "add it there",
        ),
        ("firm_capital_all_sum", "firm_invest_all_mean", "defined twice"),
        ("firm_capital_all_sum", "user_capital_all_sum", "name it firm_"),
        (
            "    owner: ml-platform\n    created: 2026-11-26\n    known_issues:\n      - A stock",
            "    owner: ml-platform\n    colour: red\n    created: 2026-11-26\n    known_issues:\n"
            "      - A stock",
            "colour",
        ),
    ],
)
def test_inconsistent_registries_are_refused(
    tmp_path: Path, old: str, new: str, fragment: str
) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    with pytest.raises(RegistryError, match=fragment):
        load_registry(_write(tmp_path, text.replace(old, new, 1)))


def test_missing_and_unparseable_files(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="ragline features add"):
        load_registry(tmp_path / "nope.yaml")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(_write(tmp_path, "features: [\n"))
    assert load_registry(_write(tmp_path, "")).features == ()


def test_add_save_load_round_trip(tmp_path: Path) -> None:
    source = SourceTable(entity_key="user", timestamp_column="ts")
    registry = FeatureRegistry().add(_definition("user_spend_7d_sum"), source)
    registry = registry.add(_definition("user_spend_all_count", "int64", known_issues=["x"]))
    path = tmp_path / "sub" / "features.yaml"
    save_registry(registry, path)
    assert load_registry(path) == registry
    text = path.read_text()
    assert "created: 2026-01-02\n" in text  # a YAML date, not a quoted string
    assert list(tmp_path.glob("sub/.*tmp")) == []  # no temp file left behind


def test_add_refuses_a_conflicting_source_and_a_duplicate() -> None:
    registry = FeatureRegistry().add(
        _definition("user_spend_7d_sum"), SourceTable(entity_key="user", timestamp_column="ts")
    )
    with pytest.raises(RegistryError, match="already has entity_key"):
        registry.add(
            _definition("user_spend_1d_sum"), SourceTable(entity_key="uid", timestamp_column="ts")
        )
    with pytest.raises(RegistryError, match="defined twice"):
        registry.add(_definition("user_spend_7d_sum"))
    with pytest.raises(RegistryError, match="no feature 'nope'"):
        registry.get("nope")
    with pytest.raises(RegistryError, match="no source table"):
        registry.for_source("nope")


def test_catalog_lists_every_feature_and_issue() -> None:
    registry = load_registry(EXAMPLE)
    text = catalog_markdown(registry)
    assert text.startswith("# Feature catalogue\n\n8 features, 1 source tables.\n")
    assert "## grunfeld" in text and "Entity key `firm`, event time `ts`." in text
    assert (
        "| `firm_years_all_count` | int64 | `invest` | all | count | ml-platform | "
        "2026-11-26 | Years on record so far (counts non-missing invest values). |"
    ) in text
    assert "- `firm_capital_all_sum`: A stock summed over time" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == 8 and rows == sorted(rows)
