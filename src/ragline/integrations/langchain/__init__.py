"""ragline for LangChain (`pip install 'ragline[langchain]'`): its retriever, vector store,
embeddings and router as LangChain components, built on ragline's public API.

    from ragline.integrations.langchain import RaglineRetriever, RaglineChatModel

    retriever = RaglineRetriever(collection="docs", k=5)      # settings as the CLI finds them
    llm = RaglineChatModel()
    docs = retriever.invoke("How are point ids computed?")
    llm.invoke(f"Answer from: {docs[0].page_content}").response_metadata["cost_usd"]

    RaglineVectorStore(collection="notes").add_texts(["..."])  # chunked by ragline's ingest
    RaglineEmbeddings().embed_query("yeast")

docs/integrations.md says what each maps to and which LangChain standard tests they pass.
"""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError(
        "ragline.integrations.langchain needs langchain-core; pip install 'ragline[langchain]'"
    ) from exc

from ragline.integrations.langchain.chat_model import RaglineChatModel
from ragline.integrations.langchain.embeddings import RaglineEmbeddings
from ragline.integrations.langchain.retriever import RaglineRetriever
from ragline.integrations.langchain.vectorstore import RaglineVectorStore

__all__ = ["RaglineChatModel", "RaglineEmbeddings", "RaglineRetriever", "RaglineVectorStore"]
