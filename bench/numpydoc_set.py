"""A labelled retrieval set of LONG queries that none of us wrote: numpydoc docstrings.

    docs, queries = numpydoc_set(max_docs=400)
    write_jsonl(docs, tmp / "corpus" / "numpydoc.jsonl")   # same record shape as the other sets

The authors of numpy, scipy, pandas and scikit-learn (as installed in this venv) write their
docstrings in the numpydoc layout: a summary line, an extended summary, then sections under
dashed underlines (Parameters, Returns, Notes, Examples, ...). For each public function and
class of a fixed list of their modules (`MODULES`; `__all__` where the module has one; an
object re-exported under the same name counts once, under the first module), both sides of
a pair come from one docstring, in different sections:

- the query (kind `long`) is the extended summary followed by the Notes section: several
  paragraphs of prose about what the object does and how, with `.. math::` and other
  directive blocks, inline `:math:` roles, doctest paragraphs and reference markers such as
  `[1]_` removed, rst roles and backquotes reduced to their text, and the words of the
  object's own name, its class and its module removed (`strip_words`), so the query cannot
  name its answer. Paragraphs found in `BOILERPLATE_COPIES` or more queries (scipy's Array
  API table, sklearn's "Read more in the User Guide.") are dropped. Only queries of at least
  `MIN_QUERY_WORDS` words in at least `MIN_PARAGRAPHS` paragraphs are kept; longer ones are
  cut at `MAX_QUERY_WORDS`;
- the document is the signature, the summary line and the Parameters and Returns sections as
  written (neither the extended summary nor the Notes), at least `MIN_DOC_WORDS` words.

Relevance: the one document the query came from. Docstrings that occur twice (aliases such
as `numpy.acosh`/`numpy.arccosh`, or one docstring shared by several objects) are dropped
with all their documents, as are queries or documents that occur twice. The libraries are
imported inside `numpydoc_set`, not when this module is imported. Everything is sorted and
the `max_docs` cap keeps the documents with the smallest SHA-256 of their id, so a run on
the same venv gives the same set. On this machine (numpy 2.4, scipy 1.17, pandas 3.1,
scikit-learn 1.9) 694 pairs qualify before the cap (scipy.stats 111, numpy 98, scipy.signal
65, ...); with the default cap of 400, queries have a median of 109 words in 4 paragraphs
(60 to 300) and documents 190 words; split_of puts 205 in dev and 195 in test.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections import Counter
from collections.abc import Iterator

from labelled_sets import Doc, Query, first_by_hash, name_words, strip_words

# Sorted and fixed, so runs stay comparable; an object exported twice counts under the first.
MODULES = (
    "numpy",
    "numpy.fft",
    "numpy.linalg",
    "numpy.random",
    "pandas",
    "scipy.integrate",
    "scipy.interpolate",
    "scipy.linalg",
    "scipy.ndimage",
    "scipy.optimize",
    "scipy.signal",
    "scipy.sparse.linalg",
    "scipy.special",
    "scipy.stats",
    "sklearn.cluster",
    "sklearn.covariance",
    "sklearn.decomposition",
    "sklearn.ensemble",
    "sklearn.feature_selection",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.preprocessing",
)
MIN_QUERY_WORDS = 60
MIN_PARAGRAPHS = 2
MAX_QUERY_WORDS = 300
MIN_DOC_WORDS = 15
BOILERPLATE_COPIES = 3  # a paragraph in this many queries says nothing about any one object
_SECTION = re.compile(r"^ ?([A-Z][A-Za-z ]+)\n-{3,}[ \t]*$", re.M)  # sklearn: " References"
_SIGNATURE_LINE = re.compile(r"[\w.]+\(.*\)(\s*->.*)?", re.S)
_TABLE = re.compile(r"=+( +=+)*")
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+::|\[[^\]]+\]).*$")  # also footnotes
_PROSE = (
    (re.compile(r":math:`[^`]*`"), ""),
    (re.compile(r"\s*\[[\w.+#-]+\]_"), ""),  # reference markers: [1]_, [R5b0]_, [#]_
    (re.compile(r":[\w:-]+:`~?([^`<]*?)\s*(<[^>]*>)?`"), r"\1"),  # :func:`x`, :ref:`t <x>`
    (re.compile(r"`+([^`]*)`+_{0,2}"), r"\1"),
)


def numpydoc_set(max_docs: int = 400) -> tuple[list[Doc], list[Query]]:
    """Documents and `long` queries from the public objects of MODULES."""
    pairs = _collect()
    common = Counter(p for paragraphs, _, _ in pairs.values() for p in set(paragraphs))
    candidates: dict[str, tuple[str, Doc, str]] = {}
    for doc_id, (paragraphs, doc, raw) in pairs.items():
        kept = _cut([p for p in paragraphs if common[p] < BOILERPLATE_COPIES], MAX_QUERY_WORDS)
        query = "\n\n".join(kept)
        if len(query.split()) >= MIN_QUERY_WORDS and len(kept) >= MIN_PARAGRAPHS:
            candidates[doc_id] = (query, doc, raw)
    counts = Counter(x for query, doc, raw in candidates.values() for x in (query, doc.text))
    counts.update(raw for _, _, raw in pairs.values())
    unique = [
        k
        for k, (q, d, raw) in candidates.items()
        if counts[q] == counts[d.text] == counts[raw] == 1
    ]
    chosen = first_by_hash(unique, max_docs)
    docs, queries = [], []
    for doc_id in sorted(chosen):
        query, doc, _ = candidates[doc_id]
        docs.append(doc)
        queries.append(Query(f"long:{doc_id}", "long", query, doc_id))
    return docs, queries


def _collect() -> dict[str, tuple[list[str], Doc, str]]:
    """doc_id -> (query paragraphs, document, raw docstring) for every object with both sides."""
    pairs = {}
    seen: set[tuple[int, str]] = set()  # a re-export (same object, same name) counts once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated aliases warn when touched
        for module in MODULES:
            for name, obj in _public_objects(module):
                if (id(obj), name) in seen:
                    continue
                seen.add((id(obj), name))
                pair = _pair(module, name, obj)
                if pair is not None:
                    pairs[f"{module}.{name}"] = pair
    return pairs


def _public_objects(module_name: str) -> Iterator[tuple[str, object]]:
    """(name, object) for the public callables a module exports, its own library's only."""
    module = importlib.import_module(module_name)
    root = module_name.split(".")[0]
    for name in sorted(set(getattr(module, "__all__", None) or dir(module))):
        if name.startswith("_"):
            continue
        try:
            obj = getattr(module, name)
        except (AttributeError, ImportError):  # lazy or experimental exports
            continue
        origin = getattr(obj, "__module__", None) or root  # ufuncs carry no __module__
        if callable(obj) and not inspect.ismodule(obj) and origin.startswith(root):
            yield name, obj


def _pair(module: str, name: str, obj: object) -> tuple[list[str], Doc, str] | None:
    """(query paragraphs, document, raw docstring) of one object, or None if thin."""
    raw = getattr(obj, "__doc__", None)
    if not isinstance(raw, str) or not raw.strip():
        return None
    raw = inspect.cleandoc(raw)
    head, sections = _sections(raw)
    signature = _signature(obj)
    while head and _SIGNATURE_LINE.fullmatch(head[0].strip()):
        line = head.pop(0).strip()  # a ufunc's signature lines: the last one written wins
        signature = line[line.index("(") :]
    if not head:
        return None
    owner = name if inspect.isclass(obj) else None
    words = name_words(module, name, owner) | name_words(module, getattr(obj, "__name__", name))
    prose = [*head[1:], *sections.get("Notes", "").split("\n\n")]
    stripped = [strip_words(p, words) for p in _clean_prose(prose)]
    paragraphs = [p for p in stripped if p]
    if len(" ".join(paragraphs).split()) < MIN_QUERY_WORDS:
        return None
    fields = [
        f"{s}\n{'-' * len(s)}\n{sections[s]}" for s in ("Parameters", "Returns") if s in sections
    ]
    if len(" ".join(fields).split()) < MIN_DOC_WORDS:
        return None
    summary = " ".join(head[0].split())
    text = "\n\n".join([f"{module}.{name}{signature}", summary, *fields])
    return paragraphs, Doc(f"{module}.{name}", module, text), raw


def _sections(docstring: str) -> tuple[list[str], dict[str, str]]:
    """The paragraphs before the first section, and section title -> its text."""
    parts = _SECTION.split(docstring)
    head = [p for p in parts[0].strip().split("\n\n") if p.strip()]
    sections = {
        title.strip(): body.strip("\n")
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }
    return head, sections


def _clean_prose(paragraphs: list[str]) -> list[str]:
    """Prose paragraphs on one line each: directives, doctests and markup gone."""
    out = []
    for paragraph in _drop_directives("\n\n".join(paragraphs)).split("\n\n"):
        first_line = paragraph.strip().split("\n")[0]
        if first_line.startswith(">>>") or _TABLE.fullmatch(first_line):
            continue
        for pattern, replacement in _PROSE:
            paragraph = pattern.sub(replacement, paragraph)
        flat = " ".join(paragraph.split())
        if re.search(r"[A-Za-z]{2}", flat):
            out.append(flat)
    return out


def _drop_directives(text: str) -> str:
    """`text` without `.. name::` lines, and without the indented block after those lines
    and after a literal-block `::` (math and code, mostly)."""
    kept: list[str] = []
    indent: int | None = None
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip())
        if indent is not None and (not line.strip() or depth > indent):
            continue
        literal = line.rstrip().endswith("::")
        directive = _DIRECTIVE.match(line)
        indent = depth if directive or literal else None
        if directive is None:
            kept.append(line.rstrip()[:-1] if literal else line)
            if literal:
                kept.append("")  # the block it introduces ends a paragraph
    return "\n".join(kept)


def _cut(paragraphs: list[str], limit: int) -> list[str]:
    """The paragraphs in order, the last one cut so that at most `limit` words remain."""
    out, left = [], limit
    for paragraph in paragraphs:
        words = paragraph.split()
        if left <= 0 or not words:
            break
        out.append(" ".join(words[:left]))
        left -= len(words)
    return out


def _signature(obj: object) -> str:
    """`(a, b=1)`: no annotations, and defaults without memory addresses, so runs agree."""
    try:
        signature = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    bare = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    plain = signature.replace(parameters=bare, return_annotation=signature.empty)
    return re.sub(r" at 0x[0-9a-fA-F]+>", ">", str(plain))


if __name__ == "__main__":
    documents, all_queries = numpydoc_set()
    print(f"{len(documents)} documents, {len(all_queries)} queries")
    for query, doc in list(zip(all_queries, documents, strict=True))[:5]:
        print(f"{query.relevant}\n  Q: {query.text[:300]!r}\n  D: {doc.text[:200]!r}")
