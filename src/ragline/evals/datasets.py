"""Typed loaders for evaluation data: BEIR retrieval folders and golden QA JSONL files.

    beir = load_beir(Path("data/scifact"))            # corpus.jsonl, queries.jsonl, qrels/test.tsv
    golden = load_golden_jsonl(Path("golden.jsonl"))  # one QA item per line

Pure parsing: no network, no other ragline package. Every problem in a file raises a
`DatasetError` (a ValueError) that names the file, the line and the field, and says what to fix.
Blank lines are skipped; files must be UTF-8 (a leading byte-order mark is tolerated).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
QRELS_HEADER = ("query-id", "corpus-id", "score")
_EMPTY: Mapping[str, JsonValue] = MappingProxyType({})


class DatasetError(ValueError):
    """A dataset file that cannot be read as it stands; the message says where and what to fix.

    Example:
        >>> str(DatasetError(Path("q.jsonl"), "add it", line=3, field="_id"))
        "q.jsonl:3: field '_id': add it"
    """

    def __init__(
        self, path: Path, message: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        what = f" field {field!r}:" if field is not None else ""
        super().__init__(f"{where}:{what} {message}")
        self.path = path
        self.line = line
        self.field = field


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    """One retrievable document; `metadata` holds the record's other keys.

    Example:
        >>> CorpusDoc("d1", "Title", "Body text.").doc_id
        'd1'
    """

    doc_id: str
    title: str
    text: str
    metadata: Mapping[str, JsonValue] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class EvalQuery:
    """One query of a retrieval set; `metadata` holds the record's other keys (e.g. ``kind``).

    Example:
        >>> EvalQuery("q1", "what is bm25?").text
        'what is bm25?'
    """

    query_id: str
    text: str
    metadata: Mapping[str, JsonValue] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class BeirSet:
    """A BEIR folder: documents, the queries that have judgements, and graded qrels.

    ``qrels[query_id][doc_id]`` is the integer grade. Queries without any qrels row in the
    split are left out of ``queries`` and listed in ``dropped_queries``.

    Example:
        >>> beir = load_beir(Path("data/scifact"), split="test")  # doctest: +SKIP
        >>> beir.qrels["1"]  # doctest: +SKIP
        {'31715818': 1}
    """

    name: str
    corpus: tuple[CorpusDoc, ...]
    queries: tuple[EvalQuery, ...]
    qrels: Mapping[str, Mapping[str, int]]
    dropped_queries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GoldenItem:
    """One golden QA item: a question, its acceptable answers and the sources that support them.

    Example:
        >>> GoldenItem("g1", "Who wrote BM25?", answers=("Robertson",)).should_abstain
        False
    """

    id: str
    question: str
    answers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    should_abstain: bool = False
    synthetic: bool = False
    metadata: Mapping[str, JsonValue] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class GoldenSet:
    """The items of one golden JSONL file, in file order.

    Example:
        >>> golden = load_golden_jsonl(Path("golden.jsonl"))  # doctest: +SKIP
        >>> [item.id for item in golden.items if item.should_abstain]  # doctest: +SKIP
        ['g7']
    """

    name: str
    items: tuple[GoldenItem, ...]


def load_beir(folder: Path, split: str = "test") -> BeirSet:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` from a BEIR folder."""
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DatasetError(
            qrels_path,
            f"no qrels for split {split!r}; splits found: {found or 'none'} "
            "(a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv)",
        )
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    corpus = tuple(_corpus_doc(corpus_path, n, r) for n, r in _records(corpus_path, "_id"))
    queries = tuple(_query(queries_path, n, r) for n, r in _records(queries_path, "_id"))
    qrels = _read_qrels(qrels_path, {q.query_id for q in queries}, {d.doc_id for d in corpus})
    return BeirSet(
        name=folder.name,
        corpus=corpus,
        queries=tuple(q for q in queries if q.query_id in qrels),
        qrels=qrels,
        dropped_queries=tuple(q.query_id for q in queries if q.query_id not in qrels),
    )


def load_golden_jsonl(path: Path) -> GoldenSet:
    """Read one golden QA item per line; ids must be unique."""
    items = tuple(_golden_item(path, n, r) for n, r in _records(path, "id"))
    return GoldenSet(name=path.stem, items=items)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of the non-blank lines; refuses a missing, non-UTF-8 or empty file."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(path, f"cannot read the file ({err.strerror}); check the path") from err
    seen = False
    for number, chunk in enumerate(raw.splitlines(), start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DatasetError(
                path,
                f"not UTF-8 ({err.reason} at byte {err.start}); re-encode the file as UTF-8",
                line=number,
            ) from err
        if number == 1:
            text = text.removeprefix("\ufeff")
        if text.strip():
            seen = True
            yield number, text
    if not seen:
        raise DatasetError(path, "the file is empty; it needs at least one record")


def _objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, JSON object) per non-blank line. Any: this is the wire edge."""
    for number, text in _lines(path):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DatasetError(
                path,
                f"invalid JSON ({err.msg} at column {err.colno}); one object per line",
                line=number,
            ) from err
        if not isinstance(record, dict):
            raise DatasetError(
                path, f"expected a JSON object, got {type(record).__name__}", line=number
            )
        yield number, record


def _identifier(path: Path, number: int, record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    # Integer ids are common in exported data; qrels refer to them as text anyway.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(
            path,
            "missing or empty; every record needs a non-empty string id",
            line=number,
            field=key,
        )
    return value


def _text(
    path: Path, number: int, record: dict[str, Any], key: str, *, required: bool, empty_ok: bool
) -> str:
    value = record.get(key, None if required else "")
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        need = "a string" if empty_ok else "a non-empty string"
        got = "missing" if key not in record else f"got {type(value).__name__} {value!r:.40}"
        raise DatasetError(path, f"must be {need}; {got}", line=number, field=key)
    return value


def _strings(path: Path, number: int, record: dict[str, Any], key: str) -> tuple[str, ...]:
    value = record.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(path, "must be a list of strings", line=number, field=key)
    return tuple(value)


def _flag(path: Path, number: int, record: dict[str, Any], key: str) -> bool:
    value = record.get(key, False)
    if not isinstance(value, bool):
        raise DatasetError(
            path, f"must be true or false, got {value!r:.40}", line=number, field=key
        )
    return value


def _metadata(record: dict[str, Any], known: frozenset[str]) -> Mapping[str, JsonValue]:
    extra = {k: v for k, v in record.items() if k not in known}
    return MappingProxyType(extra) if extra else _EMPTY


_CORPUS_KEYS = frozenset({"_id", "title", "text"})
_QUERY_KEYS = frozenset({"_id", "text"})
_GOLDEN_KEYS = frozenset(
    {"id", "question", "answers", "sources", "tags", "should_abstain", "synthetic"}
)


def _records(path: Path, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, JSON object) per non-blank line, refusing an id seen on an earlier line."""
    first: dict[str, int] = {}
    for number, record in _objects(path):
        raw = record.get(key)
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            yield number, record  # the field check reports it
            continue
        identifier = str(raw)
        if identifier in first:
            raise DatasetError(
                path,
                f"duplicate id {identifier!r} (first on line {first[identifier]}); "
                "ids must be unique",
                line=number,
                field=key,
            )
        first[identifier] = number
        yield number, record


def _corpus_doc(path: Path, number: int, record: dict[str, Any]) -> CorpusDoc:
    return CorpusDoc(
        doc_id=_identifier(path, number, record, "_id"),
        # BEIR corpora contain title-only and empty documents; both are legal.
        title=_text(path, number, record, "title", required=False, empty_ok=True),
        text=_text(path, number, record, "text", required=True, empty_ok=True),
        metadata=_metadata(record, _CORPUS_KEYS),
    )


def _query(path: Path, number: int, record: dict[str, Any]) -> EvalQuery:
    return EvalQuery(
        query_id=_identifier(path, number, record, "_id"),
        text=_text(path, number, record, "text", required=True, empty_ok=False),
        metadata=_metadata(record, _QUERY_KEYS),
    )


def _golden_item(path: Path, number: int, record: dict[str, Any]) -> GoldenItem:
    return GoldenItem(
        id=_identifier(path, number, record, "id"),
        question=_text(path, number, record, "question", required=True, empty_ok=False),
        answers=_strings(path, number, record, "answers"),
        sources=_strings(path, number, record, "sources"),
        tags=_strings(path, number, record, "tags"),
        should_abstain=_flag(path, number, record, "should_abstain"),
        synthetic=_flag(path, number, record, "synthetic"),
        metadata=_metadata(record, _GOLDEN_KEYS),
    )


def _read_qrels(
    path: Path, query_ids: set[str], doc_ids: set[str]
) -> Mapping[str, Mapping[str, int]]:
    """``{query_id: {doc_id: grade}}`` from a BEIR qrels TSV with its header line."""
    qrels: dict[str, dict[str, int]] = {}
    rows = _lines(path)
    number, header = next(rows)
    if tuple(c.strip() for c in header.split("\t")) != QRELS_HEADER:
        raise DatasetError(
            path,
            f"first line must be the header {chr(9).join(QRELS_HEADER)!r} (tab-separated)",
            line=number,
        )
    for number, text in rows:
        query_id, doc_id, grade = _qrels_row(path, number, text)
        if query_id not in query_ids:
            raise DatasetError(
                path,
                f"query {query_id!r} is not in queries.jsonl; add it or remove the row",
                line=number,
                field="query-id",
            )
        if doc_id not in doc_ids:
            raise DatasetError(
                path,
                f"document {doc_id!r} is not in corpus.jsonl; add it or remove the row",
                line=number,
                field="corpus-id",
            )
        if doc_id in qrels.setdefault(query_id, {}):
            raise DatasetError(
                path,
                f"duplicate judgement for ({query_id!r}, {doc_id!r}); keep one row",
                line=number,
            )
        qrels[query_id][doc_id] = grade
    if not qrels:
        raise DatasetError(
            path, "no judgements after the header; add query-id/corpus-id/score rows"
        )
    return MappingProxyType({q: MappingProxyType(d) for q, d in qrels.items()})


def _qrels_row(path: Path, number: int, text: str) -> tuple[str, str, int]:
    """(query id, document id, grade) of one qrels line."""
    cells = [c.strip() for c in text.split("\t")]
    if len(cells) != 3:
        raise DatasetError(
            path,
            f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(cells)}",
            line=number,
        )
    query_id, doc_id, score = cells
    try:
        return query_id, doc_id, int(score)
    except ValueError:
        raise DatasetError(
            path,
            f"grade {score!r} is not an integer; use graded ints such as 0, 1, 2",
            line=number,
            field="score",
        ) from None
