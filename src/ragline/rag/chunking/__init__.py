"""Chunking: documents -> chunks with stable ids and metadata.

    chunker = Chunker(ChunkingConfig(strategy="recursive", chunk_size=256))
    chunks = chunker.chunk(document)

Strategies: `fixed_size` (token windows), `recursive` (whole paragraphs/sentences packed up
to the size) and `semantic` (cuts where adjacent sentences drift apart; needs an embedder).
"""

from __future__ import annotations

import math
import uuid

from ragline.core.embedding import TokenWindow
from ragline.rag.chunking.semantic import EmbedFn, semantic
from ragline.rag.chunking.splitters import Count, Tokenizer, counter, fixed_size, recursive
from ragline.rag.chunking.tokens import get_encoding
from ragline.rag.config import ChunkingConfig
from ragline.rag.errors import IngestError
from ragline.rag.types import Chunk, Document

__all__ = ["Chunker", "chunk_id", "get_encoding"]

# Namespace for point ids: uuid5(namespace, source + chunk text) is stable across runs.
_NAMESPACE = uuid.UUID("5b0b6a54-36c1-4d1d-9a37-2f2d3b8c6e11")


# Chunks aim at this share of the embedder's window, measured in tiktoken tokens: prose has
# ~1.2 word-pieces per cl100k token, so most chunks fit whole; denser ones are cut again.
WINDOW_SHARE = 0.8


def _within_window(tokens: Count, size: int, window: TokenWindow) -> Count:
    """Exact length in chunk-size units: over `size` when over the size or over the window."""
    scale = size / window.max_tokens

    def length(text: str) -> int:
        n = tokens(text)
        return n if n > size else max(n, math.ceil(window.count(text) * scale))

    return length


def chunk_id(source_path: str, source_document: str, text: str) -> str:
    """Point id of a chunk: the same source and text always give the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{source_path}\x1f{source_document}\x1f{text}"))


class Chunker:
    """Cuts documents into chunks of at most `size` tokens.

    `size` is the configured chunk size, lowered to `size_cap` when given. With a `window`
    (what the embedder reads), every chunk must also fit the window in the embedder's own
    tokens, so that no chunk is silently truncated by the embedder.
    """

    def __init__(
        self,
        config: ChunkingConfig,
        size_cap: int | None = None,
        embed: EmbedFn | None = None,
        tokenizer: Tokenizer | None = None,
        window: TokenWindow | None = None,
    ) -> None:
        if config.strategy == "semantic" and embed is None:
            raise ValueError("the semantic strategy needs an embed function")
        self.config = config
        limits = [config.chunk_size, size_cap or config.chunk_size]
        if window is not None:
            limits.append(max(int(window.max_tokens * WINDOW_SHARE), 1))
        self.size = min(limits)
        self.overlap = min(config.chunk_overlap, self.size // 2)
        self.window = window
        self._embed = embed
        self._tok = tokenizer or get_encoding(config.encoding)
        self._tokens = counter(self._tok)

    def split(self, text: str) -> list[str]:
        """The chunk texts of one stretch of text (each within the window, if one is set)."""
        chunks = self._split(text, self._tokens)
        if self.window is None:
            return chunks
        return [piece for chunk in chunks for piece in self._fit_window(chunk, self.window)]

    def _fit_window(self, chunk: str, window: TokenWindow) -> list[str]:
        """The chunk, or balanced parts of it (whole sentences) that each fit the window.

        Text denser in the embedder's tokens than prose (code, tables, symbols) can overflow
        the window at the usual size; such a chunk is cut into as many parts as it needs.
        """
        n = window.count(chunk)
        if n <= window.max_tokens:
            return [chunk]
        parts = math.ceil(n / (window.max_tokens * 0.95))
        size = math.ceil(self._tokens(chunk) / parts) + 1
        pieces = recursive(chunk, size, 0, self._tok, self._tokens)
        if all(window.count(p) <= window.max_tokens for p in pieces):
            return pieces
        return recursive(
            chunk, self.size, 0, self._tok, _within_window(self._tokens, self.size, window)
        )

    def _split(self, text: str, count: Count) -> list[str]:
        strategy = self.config.strategy
        size, overlap, tok = self.size, self.overlap, self._tok
        if strategy == "fixed_size":
            return fixed_size(text, size, overlap, tok, count)
        if strategy == "recursive":
            return recursive(text, size, overlap, tok, count)
        assert self._embed is not None
        percentile = self.config.semantic_percentile
        return semantic(text, size, overlap, tok, self._embed, percentile, count)

    def chunk(self, doc: Document) -> list[Chunk]:
        """Chunks of a document; they never span two sections (pages or headings)."""
        chunks: list[Chunk] = []
        seen: set[str] = set()
        for section in doc.sections:
            for text in self.split(section.text):
                cid = chunk_id(doc.source_path, doc.source_document, text)
                if cid in seen:  # the same text twice in one document is stored once
                    continue
                seen.add(cid)
                chunks.append(
                    Chunk(
                        id=cid,
                        text=text,
                        source_document=doc.source_document,
                        source_path=doc.source_path,
                        chunk_index=len(chunks),
                        date_created=doc.date_created,
                        page_number=section.page_number,
                        section_heading=section.section_heading,
                        metadata=doc.metadata,
                    )
                )
        if not chunks:
            raise IngestError("no text left after chunking")
        return chunks
