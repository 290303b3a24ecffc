"""Where the LlamaIndex adapters get ragline from: one `ragline.Pipeline`, given or made on
first use, and ragline's hits as LlamaIndex nodes.

    source = PipelineSource()                    # settings found as the CLI finds them
    source = PipelineSource(pipeline=pipeline)   # share one pipeline (one model load, one store)
    hits = source.get().search("yeast", k=5, collection="kb")
    nodes = [to_node(hit) for hit in hits]       # NodeWithScore(TextNode(text, id_=chunk id))

Only the public API of `ragline` is used here (import-linter keeps it so).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

from llama_index.core.schema import NodeWithScore, TextNode

import ragline

if TYPE_CHECKING:
    from ragline import Hit, Pipeline, Settings

Mode = Literal["dense", "sparse", "hybrid"]

# What a node shows an LLM besides its text (LlamaIndex writes metadata into the prompt): where
# the chunk comes from. The rest of ragline's payload stays on the node, for code to read.
LLM_METADATA = frozenset({"source_document", "page_number", "section_heading"})


class PipelineSource:
    """One `ragline.Pipeline` for an adapter: the one given (the caller closes it), or one made
    from `settings` (default `ragline.load_settings()`) on first use and closed by `close`.

        source = PipelineSource(settings)
        source.get().search("query")
        source.close()
    """

    def __init__(self, settings: Settings | None = None, pipeline: Pipeline | None = None) -> None:
        if settings is not None and pipeline is not None:
            raise ValueError(
                "give settings= or pipeline=, not both (a pipeline carries its settings)"
            )
        self._settings = settings
        self._pipeline = pipeline
        self._owned = pipeline is None
        self._lock = threading.Lock()

    def get(self) -> Pipeline:
        """The pipeline, made on the first call (constructing it loads no model)."""
        with self._lock:
            if self._pipeline is None:
                settings = self._settings or ragline.load_settings()
                self._pipeline = ragline.Pipeline(settings)
            return self._pipeline

    @property
    def settings(self) -> Settings:
        """The settings the pipeline runs with (loaded now if no pipeline was made yet)."""
        if self._pipeline is not None:
            return self._pipeline.settings
        if self._settings is None:
            self._settings = ragline.load_settings()
        return self._settings

    def close(self) -> None:
        """Close the pipeline if this source made it; a given one is its owner's to close."""
        with self._lock:
            if self._owned and self._pipeline is not None:
                self._pipeline.close()
                self._pipeline = None


def to_node(hit: Hit) -> NodeWithScore:
    """A ragline hit as a LlamaIndex node: the chunk's text, its id, its payload as metadata.

    to_node(hit).node.metadata["source_document"]    # "guide.md"
    """
    metadata = {key: value for key, value in hit.payload.items() if key != "text"}
    hidden = [key for key in metadata if key not in LLM_METADATA]
    node = TextNode(
        text=str(hit.payload.get("text", "")),
        id_=hit.id,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=hit.score)
