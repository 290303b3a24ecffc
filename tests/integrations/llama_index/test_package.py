"""The package: every adapter exported, and importing it loads no model or torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

CHECK = """
import sys
import ragline.integrations.llama_index as package
heavy = sorted({"torch", "sentence_transformers", "llama_cpp", "qdrant_edge"} & set(sys.modules))
print(",".join(package.__all__), heavy)
"""


def test_importing_the_adapters_loads_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    names, heavy = done.stdout.split()
    assert heavy == "[]", done.stdout
    assert names.split(",") == [
        "RaglineEmbedding",
        "RaglineLLM",
        "RaglineQueryEngine",
        "RaglineRetriever",
        "RaglineVectorStore",
    ]
