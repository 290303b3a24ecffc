"""A labelled retrieval set that exists offline and that none of us wrote: stdlib docstrings.

    docs, queries = stdlib_docstring_set(modules=24, max_docs=400)
    write_jsonl(docs, tmp / "corpus" / "docs.jsonl")   # {"_id", "text", "module"} per line

For each public function, class and method of a fixed list of standard-library modules whose
own docstring (`__doc__`, not inherited) has a summary sentence and at least two more
sentences or 12 more words, CPython's authors wrote both sides of a pair:

- the query is the docstring's first sentence (its summary line);
- the document is the signature (`module.qualname(params)`) and the rest of the docstring,
  without that sentence.

Relevance: the one document the query came from. Two query types share the documents:
`summary` (the sentence as written) and `noname` (the same sentence with the words of the
object's own name, its class and its module removed, also their snake_case and CamelCase
parts, so that lexical overlap with the signature line drops; only the summaries that name
the object get one). Summaries that occur twice (aliases, copies) are dropped with all
their documents, so no query has an equally good second answer. Everything is sorted and
the `max_docs` cap keeps the documents with the smallest SHA-256 of their id, so a run on
the same interpreter gives the same set.

Dev and test: every set (this one, the man pages, the FAQ and numpydoc sets) is split by its
relevant document, 50/50 and fixed: `split_of(doc_id)` is "dev" when the first byte of the
SHA-256 of the id is even, else "test". A document and all its queries fall on one side, so
whatever is tuned on dev (fusion weights, thresholds, prompts) has never seen a test answer.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Modules with many documented public callables; sorted, fixed, so runs stay comparable.
MODULES = (
    "argparse",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "configparser",
    "contextlib",
    "csv",
    "datetime",
    "difflib",
    "email.message",
    "fractions",
    "functools",
    "heapq",
    "inspect",
    "ipaddress",
    "itertools",
    "json",
    "logging",
    "os",
    "pathlib",
    "pickle",
    "random",
    "re",
    "shlex",
    "shutil",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "typing",
    "urllib.parse",
    "zipfile",
)
QUERY_TYPES = ("summary", "noname")
MIN_QUERY_WORDS = 4
MIN_REST_WORDS = 12
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Doc:
    doc_id: str  # module.qualname
    module: str
    text: str


@dataclass(frozen=True, slots=True)
class Query:
    query_id: str  # <type>:<doc_id>
    kind: str  # one of QUERY_TYPES
    text: str
    relevant: str  # the doc_id it came from


def stdlib_docstring_set(
    modules: int = len(MODULES), max_docs: int = 400
) -> tuple[list[Doc], list[Query]]:
    """Documents and queries of both types from the first `modules` of MODULES."""
    pairs: dict[str, tuple[str, Doc, set[str]]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # typing.io and friends warn when touched
        for name in MODULES[:modules]:
            for doc_id, obj, owner in _public_objects(name):
                pair = _pair(doc_id, name, obj, owner)
                if pair is not None and doc_id not in pairs:
                    pairs[doc_id] = pair
    seen = Counter(summary.lower() for summary, _, _ in pairs.values())
    unique = {k: v for k, v in pairs.items() if seen[v[0].lower()] == 1}
    texts = Counter(doc.text for _, doc, _ in unique.values())
    unique = {k: v for k, v in unique.items() if texts[v[1].text] == 1}
    kept = first_by_hash(unique, max_docs)
    docs, queries = [], []
    for doc_id in sorted(kept):
        summary, doc, words = unique[doc_id]
        docs.append(doc)
        queries.append(Query(f"summary:{doc_id}", "summary", summary, doc_id))
        stripped = strip_words(summary, words)
        if stripped != summary and len(_WORD.findall(stripped)) >= MIN_QUERY_WORDS - 1:
            queries.append(Query(f"noname:{doc_id}", "noname", stripped, doc_id))
    return docs, queries


def write_jsonl(docs: list[Doc], path: Path) -> Path:
    """One {"_id", "text", "module"} record per document, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for doc in docs:
            record = {"_id": doc.doc_id, "text": doc.text, "module": doc.module}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def first_by_hash(ids: Iterable[str], n: int) -> list[str]:
    """The `n` ids with the smallest SHA-256: a cap that keeps the same items on every run."""
    return sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:n]


def split_of(doc_id: str) -> str:
    """The split of the queries judged against `doc_id`, "dev" or "test": fixed, 50/50."""
    return "dev" if hashlib.sha256(doc_id.encode()).digest()[0] % 2 == 0 else "test"


def name_words(module: str, name: str, owner: str | None = None) -> set[str]:
    """Lower-case words of an object's name, its class and its module, with their parts.

    >>> sorted(name_words("urllib.parse", "urlsplit"))
    ['parse', 'urllib', 'urlsplit']
    """
    words = {*module.split("."), name, *([owner] if owner else [])}
    for part in (name, owner or ""):
        words |= {w for w in (*part.split("_"), *_CAMEL.findall(part)) if len(w) > 2}
    return {w.lower() for w in words if w}


def _public_objects(module_name: str) -> Iterator[tuple[str, object, str | None]]:
    """(module.qualname, object, class name or None) for public callables defined there."""
    module = importlib.import_module(module_name)
    for name in sorted(vars(module)):
        obj = vars(module)[name]
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)):
            continue
        yield f"{module_name}.{name}", obj, None
        if inspect.isclass(obj):
            for attr in sorted(vars(obj)):
                member = vars(obj)[attr]
                if isinstance(member, classmethod | staticmethod):
                    member = member.__func__
                if attr.startswith("_") or not callable(member):
                    continue
                yield f"{module_name}.{name}.{attr}", member, name


def _pair(
    doc_id: str, module: str, obj: object, owner: str | None
) -> tuple[str, Doc, set[str]] | None:
    """(summary sentence, document, words of the name) or None if the docstring is too thin."""
    raw = getattr(obj, "__doc__", None)
    if not isinstance(raw, str) or not raw.strip():
        return None
    paragraphs = inspect.cleandoc(raw).split("\n\n")
    if re.fullmatch(r"[\w.]+\(.*\)(\s*->.*)?", paragraphs[0].strip(), flags=re.S):
        paragraphs = paragraphs[1:]  # an old-style signature line, not prose
    body = "\n\n".join(paragraphs).strip()
    first, rest = _split_summary(body)
    if len(_WORD.findall(first)) < MIN_QUERY_WORDS or len(rest.split()) < MIN_REST_WORDS:
        return None
    name = doc_id.rsplit(".", 1)[-1]
    text = f"{doc_id}{_signature(obj)}\n\n{rest}"
    return first, Doc(doc_id, module, text), name_words(module, name, owner)


def _split_summary(body: str) -> tuple[str, str]:
    """The first sentence (its lines joined) and the rest of the docstring."""
    head, _, tail = body.partition("\n\n")
    flat = " ".join(head.split())
    parts = _SENTENCE_END.split(flat, maxsplit=1)
    first = parts[0]
    rest = " ".join(p for p in (parts[1] if len(parts) > 1 else "", tail) if p)
    return first.strip(), rest.strip()


def _signature(obj: object) -> str:
    """The signature, defaults without memory addresses (`<function f at 0x...>`), so that
    every run builds the same text."""
    try:
        text = str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return re.sub(r" at 0x[0-9a-fA-F]+>", ">", text)


def strip_words(text: str, words: set[str]) -> str:
    """`text` without the identifiers in `words` (also inside ``quotes`` and dotted names)."""
    kept = []
    for token in text.split():
        parts = _WORD.findall(token)
        if any(p.lower() in words for p in parts):
            pattern = "|".join(rf"\b{re.escape(w)}\b" for w in sorted(words))
            token = re.sub(pattern, "", token, flags=re.I)
            if not _WORD.search(token):
                continue
        kept.append(token)
    return " ".join(" ".join(kept).split())


if __name__ == "__main__":
    documents, all_queries = stdlib_docstring_set()
    print(f"{len(documents)} documents, {len(all_queries)} queries")
    for query in all_queries[:12]:
        print(f"{query.kind:8} {query.relevant:40} {query.text}")
