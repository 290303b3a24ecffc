"""Chunking: documents -> chunks with stable ids and metadata.

    chunker = Chunker(ChunkingConfig(strategy="recursive", chunk_size=256))
    chunks = chunker.chunk(document)

Strategies: `fixed_size` (token windows), `recursive` (whole paragraphs/sentences packed up
to the size) and `semantic` (cuts where adjacent sentences drift apart; needs an embedder).
"""

from __future__ import annotations

import uuid

from rag.chunking.semantic import EmbedFn, semantic
from rag.chunking.splitters import Tokenizer, fixed_size, recursive
from rag.chunking.tokens import get_encoding
from rag.config import ChunkingConfig
from rag.errors import IngestError
from rag.types import Chunk, Document

__all__ = ["Chunker", "chunk_id", "get_encoding"]

# Namespace for point ids: uuid5(namespace, source + chunk text) is stable across runs.
_NAMESPACE = uuid.UUID("5b0b6a54-36c1-4d1d-9a37-2f2d3b8c6e11")


def chunk_id(source_path: str, source_document: str, text: str) -> str:
    """Point id of a chunk: the same source and text always give the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{source_path}\x1f{source_document}\x1f{text}"))


class Chunker:
    """Cuts documents into chunks of at most `size` tokens.

    `size` is the configured chunk size, lowered to `size_cap` when given (the number of
    tokens the embedder reads), so that no chunk is silently truncated by the embedder.
    """

    def __init__(
        self,
        config: ChunkingConfig,
        size_cap: int | None = None,
        embed: EmbedFn | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        if config.strategy == "semantic" and embed is None:
            raise ValueError("the semantic strategy needs an embed function")
        self.config = config
        self.size = min(config.chunk_size, size_cap) if size_cap else config.chunk_size
        self.overlap = min(config.chunk_overlap, self.size // 2)
        self._embed = embed
        self._tok = tokenizer or get_encoding(config.encoding)

    def split(self, text: str) -> list[str]:
        """The chunk texts of one stretch of text."""
        strategy = self.config.strategy
        if strategy == "fixed_size":
            return fixed_size(text, self.size, self.overlap, self._tok)
        if strategy == "recursive":
            return recursive(text, self.size, self.overlap, self._tok)
        assert self._embed is not None
        percentile = self.config.semantic_percentile
        return semantic(text, self.size, self.overlap, self._tok, self._embed, percentile)

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
