"""docs/library.md runs as written: every ```python block, in order, in one namespace, in a
folder holding a small docs/ corpus (the page's promise), with this machine's real parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.paths import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
CORPUS = {
    "install.md": "# Install\n\nInstall it with pip install ragline. It needs Python 3.11.",
    "faq.txt": "Ragline stores vectors in Qdrant Edge by default. Answers cite their sources.",
}


def blocks() -> list[str]:
    return BLOCK.findall((REPO / "docs" / "library.md").read_text(encoding="utf-8"))


def test_the_page_has_snippets_for_each_public_part() -> None:
    text = "\n".join(blocks())
    for name in ("load_settings", "Pipeline", "build_router", "Ledger", "Registry"):
        assert f"ragline.{name}" in text


def test_every_snippet_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docs").mkdir()
    for name, text in CORPUS.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    namespace: dict[str, object] = {"__name__": "library_docs"}
    for number, code in enumerate(blocks(), 1):
        try:
            exec(compile(code, f"docs/library.md block {number}", "exec"), namespace)
        except Exception as exc:  # re-raised, naming the block that failed
            raise AssertionError(f"block {number} of docs/library.md failed:\n{code}") from exc
    printed = capsys.readouterr().out
    assert "chunks written" in printed and "install.md" in printed
    assert "extractive:bm25" in printed  # the chat reply's model, the embedded default
