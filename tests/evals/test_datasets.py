"""ragline.evals.datasets: BEIR folders and golden JSONL files, happy paths and every refusal."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from ragline.evals.datasets import (
    BeirSet,
    DatasetError,
    GoldenItem,
    load_beir,
    load_golden_jsonl,
)
from tests.paths import REPO

pytestmark = pytest.mark.unit

HEADER = "query-id\tcorpus-id\tscore\n"
CORPUS: list[dict[str, object]] = [
    {"_id": "d1", "title": "BM25", "text": "Okapi BM25 ranks documents.", "year": 1994},
    {"_id": "d2", "title": "", "text": "Dense retrieval uses embeddings."},
    {"_id": "d3", "text": "Reciprocal rank fusion."},
]
QUERIES: list[dict[str, object]] = [
    {"_id": "q1", "text": "what is bm25", "kind": "summary"},
    {"_id": "q2", "text": "how do dense retrievers work"},
    {"_id": "q3", "text": "a query nobody judged"},
]
QRELS = "q1\td1\t2\nq1\td3\t0\nq2\td2\t1\n"


def jsonl(records: Sequence[Mapping[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def beir_folder(
    root: Path,
    *,
    corpus: str | None = None,
    queries: str | None = None,
    qrels: str | None = None,
    split: str = "test",
) -> Path:
    folder = root / "tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(jsonl(CORPUS) if corpus is None else corpus, "utf-8")
    (folder / "queries.jsonl").write_text(jsonl(QUERIES) if queries is None else queries, "utf-8")
    (folder / "qrels" / f"{split}.tsv").write_text(HEADER + QRELS if qrels is None else qrels)
    return folder


def refusal(call: object, *args: object) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        call(*args)  # type: ignore[operator]
    return info.value


# --- BEIR happy path -------------------------------------------------------------------


def test_load_beir_reads_corpus_queries_and_graded_qrels(tmp_path: Path) -> None:
    beir = load_beir(beir_folder(tmp_path))
    assert isinstance(beir, BeirSet)
    assert beir.name == "tiny"
    assert [d.doc_id for d in beir.corpus] == ["d1", "d2", "d3"]
    assert beir.corpus[0].title == "BM25"
    assert beir.corpus[2].title == ""  # title is optional in BEIR
    assert dict(beir.corpus[0].metadata) == {"year": 1994}
    assert dict(beir.corpus[1].metadata) == {}
    assert {q: dict(d) for q, d in beir.qrels.items()} == {
        "q1": {"d1": 2, "d3": 0},
        "q2": {"d2": 1},
    }
    # q3 has no judgements in this split, so it is left out and reported.
    assert [q.query_id for q in beir.queries] == ["q1", "q2"]
    assert beir.dropped_queries == ("q3",)
    assert dict(beir.queries[0].metadata) == {"kind": "summary"}


def test_load_beir_skips_blank_lines_and_reads_other_splits(tmp_path: Path) -> None:
    corpus = "\n" + jsonl(CORPUS).replace("\n", "\n\n")
    folder = beir_folder(tmp_path, corpus=corpus, qrels=HEADER + "\nq2\td2\t1\n\n", split="dev")
    beir = load_beir(folder, split="dev")
    assert len(beir.corpus) == 3
    assert beir.dropped_queries == ("q1", "q3")


def test_load_beir_accepts_integer_ids_as_text(tmp_path: Path) -> None:
    corpus = jsonl([{"_id": 7, "text": "seven"}])
    queries = jsonl([{"_id": 1, "text": "which number"}])
    beir = load_beir(
        beir_folder(tmp_path, corpus=corpus, queries=queries, qrels=HEADER + "1\t7\t1\n")
    )
    assert beir.qrels["1"]["7"] == 1


# --- BEIR refusals ---------------------------------------------------------------------


def test_missing_id_names_file_line_and_field(tmp_path: Path) -> None:
    corpus = jsonl([CORPUS[0], {"title": "x", "text": "no id here"}])
    err = refusal(load_beir, beir_folder(tmp_path, corpus=corpus))
    assert (err.path.name, err.line, err.field) == ("corpus.jsonl", 2, "_id")
    assert "corpus.jsonl:2: field '_id'" in str(err)


def test_query_without_text_is_refused(tmp_path: Path) -> None:
    queries = jsonl([QUERIES[0], {"_id": "q2", "text": "  "}])
    err = refusal(load_beir, beir_folder(tmp_path, queries=queries))
    assert (err.path.name, err.line, err.field) == ("queries.jsonl", 2, "text")


def test_duplicate_document_id_names_both_lines(tmp_path: Path) -> None:
    corpus = jsonl([*CORPUS, {"_id": "d2", "text": "again"}])
    err = refusal(load_beir, beir_folder(tmp_path, corpus=corpus))
    assert (err.path.name, err.line, err.field) == ("corpus.jsonl", 4, "_id")
    assert "first on line 2" in str(err)


def test_duplicate_query_id_is_refused(tmp_path: Path) -> None:
    queries = jsonl([*QUERIES, {"_id": "q1", "text": "again"}])
    err = refusal(load_beir, beir_folder(tmp_path, queries=queries))
    assert (err.path.name, err.line) == ("queries.jsonl", 4)


def test_non_integer_grade_is_refused(tmp_path: Path) -> None:
    err = refusal(load_beir, beir_folder(tmp_path, qrels=HEADER + "q1\td1\t1\nq2\td2\t0.5\n"))
    assert (err.path.name, err.line, err.field) == ("test.tsv", 3, "score")
    assert "'0.5' is not an integer" in str(err)


def test_qrels_row_with_unknown_document_is_refused(tmp_path: Path) -> None:
    err = refusal(load_beir, beir_folder(tmp_path, qrels=HEADER + "q1\td9\t1\n"))
    assert (err.line, err.field) == (2, "corpus-id")
    assert "'d9' is not in corpus.jsonl" in str(err)


def test_qrels_row_with_unknown_query_is_refused(tmp_path: Path) -> None:
    err = refusal(load_beir, beir_folder(tmp_path, qrels=HEADER + "q1\td1\t1\nq9\td1\t1\n"))
    assert (err.line, err.field) == (3, "query-id")


def test_qrels_needs_header_three_columns_and_unique_pairs(tmp_path: Path) -> None:
    assert refusal(load_beir, beir_folder(tmp_path / "a", qrels=QRELS)).line == 1
    wide = beir_folder(tmp_path / "b", qrels=HEADER + "q1\td1\t1\textra\n")
    assert "3 tab-separated columns" in str(refusal(load_beir, wide))
    twice = beir_folder(tmp_path / "c", qrels=HEADER + "q1\td1\t1\nq1\td1\t2\n")
    assert refusal(load_beir, twice).line == 3


def test_empty_files_are_refused(tmp_path: Path) -> None:
    err = refusal(load_beir, beir_folder(tmp_path / "a", corpus="\n  \n"))
    assert err.path.name == "corpus.jsonl" and "empty" in str(err)
    err = refusal(load_beir, beir_folder(tmp_path / "b", qrels=HEADER))
    assert err.path.name == "test.tsv" and "no judgements" in str(err)
    err = refusal(load_beir, beir_folder(tmp_path / "c", qrels=""))
    assert err.path.name == "test.tsv" and "empty" in str(err)


def test_invalid_json_and_non_objects_name_the_line(tmp_path: Path) -> None:
    corpus = jsonl(CORPUS[:1]) + '{"_id": "d2", "text": \n'
    err = refusal(load_beir, beir_folder(tmp_path / "a", corpus=corpus))
    assert err.line == 2 and "invalid JSON" in str(err)
    err = refusal(load_beir, beir_folder(tmp_path / "b", queries='["q1", "text"]\n'))
    assert err.line == 1 and "expected a JSON object" in str(err)


def test_non_utf8_bytes_are_refused_with_their_line(tmp_path: Path) -> None:
    folder = beir_folder(tmp_path)
    (folder / "corpus.jsonl").write_bytes(
        jsonl(CORPUS[:1]).encode() + b'{"_id": "d2", "text": "caf\xe9"}\n'
    )
    err = refusal(load_beir, folder)
    assert err.line == 2 and "UTF-8" in str(err)


def test_missing_split_lists_the_splits_found(tmp_path: Path) -> None:
    err = refusal(load_beir, beir_folder(tmp_path), "dev")
    assert "['test']" in str(err)
    (tmp_path / "tiny" / "corpus.jsonl").unlink()
    err = refusal(load_beir, tmp_path / "tiny")
    assert err.path.name == "corpus.jsonl" and "cannot read" in str(err)


# --- golden JSONL ----------------------------------------------------------------------


def golden_file(tmp_path: Path, records: Sequence[Mapping[str, object]]) -> Path:
    path = tmp_path / "golden.jsonl"
    path.write_text(jsonl(records), "utf-8")
    return path


def test_load_golden_jsonl_reads_items_with_defaults_and_metadata(tmp_path: Path) -> None:
    path = golden_file(
        tmp_path,
        [
            {
                "id": "g1",
                "question": "Who proposed BM25?",
                "answers": ["Robertson", "Stephen Robertson"],
                "sources": ["d1"],
                "tags": ["history"],
                "synthetic": True,
                "difficulty": "easy",
            },
            {"id": "g2", "question": "What is the capital of Atlantis?", "should_abstain": True},
        ],
    )
    golden = load_golden_jsonl(path)
    assert golden.name == "golden"
    first, second = golden.items
    assert first.answers == ("Robertson", "Stephen Robertson")
    assert (first.sources, first.tags, first.synthetic) == (("d1",), ("history",), True)
    assert dict(first.metadata) == {"difficulty": "easy"}
    assert second == GoldenItem("g2", "What is the capital of Atlantis?", should_abstain=True)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"question": "no id"}, "id"),
        ({"id": "g2"}, "question"),
        ({"id": "g2", "question": "q", "answers": "Robertson"}, "answers"),
        ({"id": "g2", "question": "q", "sources": [1, 2]}, "sources"),
        ({"id": "g2", "question": "q", "should_abstain": "yes"}, "should_abstain"),
        ({"id": "g2", "question": "q", "synthetic": 1}, "synthetic"),
        ({"id": "g1", "question": "again"}, "id"),
    ],
)
def test_golden_field_errors_name_line_and_field(
    tmp_path: Path, record: dict[str, object], field: str
) -> None:
    path = golden_file(tmp_path, [{"id": "g1", "question": "fine"}, record])
    err = refusal(load_golden_jsonl, path)
    assert (err.path, err.line, err.field) == (path, 2, field)
    assert str(err).startswith(f"{path}:2: field {field!r}:")


def test_golden_empty_file_and_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "golden.jsonl"
    path.write_text("\n\n", "utf-8")
    assert "empty" in str(refusal(load_golden_jsonl, path))
    path.write_text('{"id": "g1", "question": "ok"}\nnot json\n', "utf-8")
    assert refusal(load_golden_jsonl, path).line == 2


def test_dataset_error_is_a_value_error() -> None:
    assert issubclass(DatasetError, ValueError)


# --- the benchmarks' labelled sets, exported and read back -----------------------------


def test_exported_docstring_set_loads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    # bench/ is a folder of scripts, not a package; mypy does not see it.
    from export_beir import export_beir  # type: ignore[import-not-found]
    from labelled_sets import stdlib_docstring_set  # type: ignore[import-not-found]

    docs, queries = stdlib_docstring_set(modules=6, max_docs=15)
    n_docs, n_queries = export_beir(docs, queries, tmp_path / "docstrings")
    beir = load_beir(tmp_path / "docstrings")
    assert (len(beir.corpus), len(beir.queries), beir.dropped_queries) == (n_docs, n_queries, ())
    assert {q.metadata["kind"] for q in beir.queries} <= {"summary", "noname"}
    for query in queries:
        assert dict(beir.qrels[query.query_id]) == {query.relevant: 1}
