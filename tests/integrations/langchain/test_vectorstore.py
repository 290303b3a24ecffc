"""RaglineVectorStore: texts go through ragline's ingest (chunks, content ids, payload,
manifest) into a real Qdrant Edge collection; search ranks as ragline does; ids name texts.
LangChain's standard vector-store tests run too, minus those whose contract ragline's
conventions contradict (named with their reasons in docs/integrations.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import ragline
from ragline.core.filters import Filter, Match
from ragline.integrations.langchain import RaglineEmbeddings, RaglineVectorStore

pytestmark = pytest.mark.integration
TEXTS = [
    "Bread needs flour, water, salt and yeast. Dough rises when yeast ferments sugars.",
    "Planets orbit the Sun on elliptical paths. Kepler described their motion.",
    "Rivers carry water from mountains to the sea. The Nile flows north.",
]
LONG = " ".join(
    f"Sentence {i} tells how sourdough starters keep wild yeast alive." for i in range(30)
)


@pytest.fixture
def store(settings: ragline.Settings) -> Iterator[RaglineVectorStore]:
    vectors = RaglineVectorStore(collection="notes", settings=settings)
    yield vectors
    vectors.close()


def test_added_texts_are_chunks_with_ragline_payload_and_the_user_metadata(
    store: RaglineVectorStore,
) -> None:
    ids = store.add_texts(TEXTS, [{"topic": "food"}, {"topic": "space"}, {"topic": "earth"}])

    found = store.similarity_search_with_score("What makes dough rise?", k=3)

    doc, score = found[0]
    assert doc.id == ids[0] and doc.page_content == TEXTS[0]
    assert doc.metadata["topic"] == "food" and doc.metadata["source_document"] == ids[0]
    assert doc.metadata["chunk_index"] == 0 and doc.metadata["score"] == score
    assert str(store.pipeline.settings.data_dir.resolve()) in doc.metadata["source_path"]
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    # ragline's own search sees the same collection
    hits = store.pipeline.search("What makes dough rise?", k=1, collection="notes")
    assert hits[0].payload["source_document"] == ids[0]


def test_adding_the_same_texts_again_changes_nothing(store: RaglineVectorStore) -> None:
    first = store.add_texts(TEXTS)
    chunks = store.pipeline.store("notes").count()

    again = store.add_texts(TEXTS)

    assert again == first  # ids come from the content, as ragline's point ids do
    assert store.pipeline.store("notes").count() == chunks


def test_a_long_text_is_chunked_under_one_id(store: RaglineVectorStore) -> None:
    [text_id] = store.add_texts([LONG], ids=["sourdough"])

    chunks = store.get_by_ids(["sourdough"])

    assert len(chunks) > 1
    assert {d.id for d in chunks} == {text_id}
    assert [d.metadata["chunk_index"] for d in chunks] == list(range(len(chunks)))
    assert store.delete(["sourdough"]) is True
    assert store.get_by_ids(["sourdough"]) == []


def test_an_existing_id_is_replaced_and_unknown_ids_are_left_out(
    store: RaglineVectorStore,
) -> None:
    store.add_texts(["The old text about bread."], ids=["a"])
    store.add_texts(["A new text about orbits."], ids=["a"])
    store.add_texts(["Another text about rivers."], ids=["b"])

    docs = store.get_by_ids(["b", "missing", "a"])

    assert [(d.id, d.page_content) for d in docs] == [
        ("b", "Another text about rivers."),
        ("a", "A new text about orbits."),
    ]
    assert store.pipeline.store("notes").count(Filter(must=(Match("source_document", "a"),))) == 1


def test_filters_take_ragline_expressions_or_a_mapping(store: RaglineVectorStore) -> None:
    store.add_texts(TEXTS, [{"topic": "food"}, {"topic": "space"}, {"topic": "earth"}])

    by_mapping = store.similarity_search("water", k=3, filter={"topic": "space"})
    by_expression = store.similarity_search("water", k=3, filter=["topic!=space"])

    assert [d.metadata["topic"] for d in by_mapping] == ["space"]
    assert {d.metadata["topic"] for d in by_expression} == {"food", "earth"}


def test_from_texts_and_as_retriever(settings: ragline.Settings) -> None:
    embeddings = RaglineEmbeddings(settings)
    store = RaglineVectorStore.from_texts(TEXTS, embeddings, collection="fresh")
    try:
        docs = store.as_retriever(search_kwargs={"k": 1}).invoke("Who described planetary motion?")
        assert store.embeddings.embed_query("x") == embeddings.embed_query("x")
    finally:
        store.close()

    assert [d.page_content for d in docs] == [TEXTS[1]]


def test_other_embeddings_and_deleting_everything_are_refused(
    store: RaglineVectorStore,
) -> None:
    with pytest.raises(TypeError, match="pass RaglineEmbeddings"):
        RaglineVectorStore.from_texts(TEXTS, DeterministicFakeEmbedding(size=8))
    with pytest.raises(ValueError, match="ragline collections drop"):
        store.delete(None)
    with pytest.raises(ValueError, match="one metadata and one id"):
        store.add_texts(TEXTS, ids=["only-one"])


def test_an_empty_store_finds_nothing(store: RaglineVectorStore) -> None:
    assert store.similarity_search("anything") == []
    assert store.get_by_ids(["x"]) == []
    assert store.delete(["x"]) is True


class TestRaglineVectorStoreStandard(VectorStoreIntegrationTests):
    """LangChain's standard vector-store tests on an empty collection per test."""

    @pytest.fixture
    def vectorstore(self, settings: ragline.Settings) -> Iterator[VectorStore]:  # type: ignore[override]
        # metadata as the user wrote it: LangChain's tests compare documents by equality
        store = RaglineVectorStore(collection="standard", settings=settings, provenance=False)
        yield store
        store.close()
