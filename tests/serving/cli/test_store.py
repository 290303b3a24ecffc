"""`ragline store snapshot|restore` through the real `ragline` app: against `FakeQdrant` on
loopback (store.backend server), and refused on the embedded Edge backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.serving.cli.app import app
from tests.rag.store.qdrant_fake import SNAPSHOT_BYTES, FakeQdrant

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["store", *args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_snapshot_and_restore_on_a_server(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "docs.snapshot"
    with FakeQdrant(collections=("docs",)) as fake:
        monkeypatch.setenv("RAGLINE_STORE__BACKEND", "server")
        monkeypatch.setenv("RAGLINE_STORE__URL", fake.url)
        code, stdout, stderr = run("snapshot", "--collection", "docs", "--out", str(out))
        assert code == 0, stderr
        assert stdout.strip() == (
            f"snapshot docs-1.snapshot of 'docs', {len(SNAPSHOT_BYTES)} bytes -> {out}"
        )
        assert out.read_bytes() == SNAPSHOT_BYTES
        code, stdout, stderr = run("restore", str(out), "--collection", "copy")
        assert code == 0, stderr
        assert stdout.strip() == f"restored 'copy' from {out}: 0 points"
        assert fake.count("POST", "/collections/copy/snapshots/upload") == 1


def test_edge_backend_is_refused_with_what_to_do(run: Invoke) -> None:
    code, stdout, stderr = run("snapshot", "--collection", "docs")
    assert code == 2 and stdout == ""
    assert "error: snapshots need store.backend 'server'" in stderr
    assert "copy its folder" in stderr


def test_restore_of_a_missing_file_exits_2(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeQdrant() as fake:
        monkeypatch.setenv("RAGLINE_STORE__BACKEND", "server")
        monkeypatch.setenv("RAGLINE_STORE__URL", fake.url)
        code, _, stderr = run("restore", str(tmp_path / "gone.snapshot"), "--collection", "docs")
    assert code == 2 and "gone.snapshot does not exist" in stderr


def test_the_multi_node_layout_in_deploy_docs_is_valid_settings(tmp_path: Path) -> None:
    """docs/deploy.md's multi-node YAML names real settings keys (extra keys are refused)."""
    from ragline.serving.settings import load_settings
    from tests.paths import REPO

    text = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = text.split("## Multi-node layout", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "multi.yaml").write_text(block, encoding="utf-8")
    settings = load_settings(tmp_path / "multi.yaml")
    assert settings.store.backend == "server" and settings.store.server.shard_number == 6
    assert settings.store.server.quantization == "int8"
    assert settings.llm.state == "redis" and settings.conversations.backend == "postgres"
