"""ragline for LlamaIndex (`pip install 'ragline[llama-index]'`): a retriever, an LLM, an
embedding model, a query engine and a vector store, each over one `ragline.Pipeline`.

    from ragline.integrations.llama_index import (
        RaglineEmbedding, RaglineLLM, RaglineQueryEngine, RaglineRetriever, RaglineVectorStore,
    )

    retriever = RaglineRetriever(collection="docs", k=5)     # as `ragline search` ranks
    retriever.retrieve("point ids")[0].node.metadata["source_document"]
    engine = RaglineQueryEngine(collection="docs")           # as `ragline ask` answers
    str(engine.query("How are point ids computed?"))         # "... [Source: ids.md]"
    RaglineLLM().complete("Say hello.").raw["cost_usd"]       # through ragline's router
    RaglineEmbedding().get_query_embedding("point ids")       # ragline's embedder
    VectorStoreIndex.from_vector_store(RaglineVectorStore(collection="docs"),
                                       embed_model=RaglineEmbedding())

Settings are found as the CLI finds them (`ragline.load_settings()`: configs/default.yaml,
$RAGLINE_CONFIG, RAGLINE_* env; data under ./.ragline); pass `settings=` to choose, or
`pipeline=` to share one loaded pipeline among several adapters. docs/integrations.md has more.
"""

from ragline.integrations.llama_index.embedding import RaglineEmbedding
from ragline.integrations.llama_index.llm import RaglineLLM
from ragline.integrations.llama_index.query_engine import RaglineQueryEngine
from ragline.integrations.llama_index.retriever import RaglineRetriever
from ragline.integrations.llama_index.vector_store import RaglineVectorStore

__all__ = [
    "RaglineEmbedding",
    "RaglineLLM",
    "RaglineQueryEngine",
    "RaglineRetriever",
    "RaglineVectorStore",
]
