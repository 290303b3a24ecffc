"""The issue's check as a user runs it: `ragline ingest` and `ragline search` in a folder
outside the repo, then a Python script there using RaglineRetriever with no settings given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rag.ingest_helpers import write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]
QUERY = "What makes dough rise before baking?"
SCRIPT = f"""
from ragline.integrations.langchain import RaglineRetriever

retriever = RaglineRetriever(collection="notes", k=5)
print(retriever.invoke({QUERY!r})[0].metadata["source_document"])
retriever.close()
"""


def _run(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_script_beside_the_ingest_gets_the_top_document_of_ragline_search(
    tmp_path: Path,
) -> None:
    write_corpus(tmp_path / "corpus", 3)
    ragline = str(Path(sys.executable).with_name("ragline"))
    (tmp_path / "script.py").write_text(SCRIPT, encoding="utf-8")

    _run([ragline, "ingest", "corpus", "--collection", "notes"], tmp_path)
    searched = _run(
        [ragline, "search", QUERY, "--collection", "notes", "--k", "5", "--json"], tmp_path
    )
    printed = _run([sys.executable, "script.py"], tmp_path)

    top = json.loads(searched.splitlines()[0])
    assert printed.strip() == top["source_document"] == "baking.txt"
