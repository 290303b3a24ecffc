"""Write the benchmarks' labelled sets as BEIR folders, so eval suites can load them.

    .venv/bin/python bench/export_beir.py OUT_DIR [--set NAME|both|all] [--max-docs N]

`docstrings` is bench/labelled_sets.py (stdlib docstrings, query kinds `summary` and `noname`),
`manpages` is bench/manpage_set.py (section-1 man pages, kind `manpage`), `faq` is
bench/faq_set.py (FAQ questions -> their answers, kind `faq`) and `long` is
bench/numpydoc_set.py (numpydoc prose -> parameter docs, kind `long`); `both` is the first
two, `all` is every set. Each goes to OUT_DIR/<set>/ as corpus.jsonl
({"_id", "title": "", "text", "module"}), queries.jsonl ({"_id", "text", "kind"}) and
qrels/test.tsv (grade 1 for the one relevant document), which
`ragline.evals.datasets.load_beir` reads back.

`--golden N` also writes OUT_DIR/manpages/golden.jsonl, a QA set for
`configs/evals/manpages-qa.yaml`: N man pages (the smallest SHA-256 of their names) asked as
"Which command is this: <its NAME summary>?", gold answer the command's name, gold source
its page; plus the questions in UNANSWERABLE, which no man page answers (should_abstain).
`--golden-faq N` does the same for `configs/evals/faq-qa.yaml` in OUT_DIR/faq/golden.jsonl:
N FAQ questions as written (smallest SHA-256 of their doc_id), gold answer the first
sentence of the answer passage, gold source that passage; plus UNANSWERABLE_FAQ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from faq_set import UNANSWERABLE_FAQ, faq_set, first_sentence
from labelled_sets import Doc, Query, stdlib_docstring_set
from manpage_set import manpage_set
from numpydoc_set import numpydoc_set

LOADERS: dict[str, Callable[..., tuple[list[Doc], list[Query]]]] = {
    "docstrings": stdlib_docstring_set,
    "manpages": manpage_set,
    "faq": faq_set,
    "long": numpydoc_set,
}
SETS = tuple(LOADERS)
GROUPS = {"both": ("docstrings", "manpages"), "all": SETS}


def export_beir(docs: Sequence[Doc], queries: Sequence[Query], folder: Path) -> tuple[int, int]:
    """Write one set as a BEIR folder; returns (documents, queries) written."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(
        folder / "corpus.jsonl",
        ({"_id": d.doc_id, "title": "", "text": d.text, "module": d.module} for d in docs),
    )
    _write_jsonl(
        folder / "queries.jsonl",
        ({"_id": q.query_id, "text": q.text, "kind": q.kind} for q in queries),
    )
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="\n") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for q in queries:
            out.write(f"{q.query_id}\t{q.relevant}\t1\n")
    return len(docs), len(queries)


UNANSWERABLE = (
    "What is the boiling point of water on the summit of Mount Everest?",
    "Who painted the ceiling of the Sistine Chapel?",
    "How many players are on a rugby union team?",
    "What year did the Berlin Wall fall?",
    "Which planet has the most moons?",
    "What is the capital city of Australia?",
    "How long should I boil an egg for a runny yolk?",
    "Who wrote the novel Pride and Prejudice?",
    "What is the speed of sound in sea water?",
    "Which ocean is the deepest?",
)


def export_golden(queries: Sequence[Query], folder: Path, n: int) -> int:
    """Write golden.jsonl: `n` man-page questions and the unanswerable ones; returns items."""
    picked = sorted(queries, key=lambda q: hashlib.sha256(q.relevant.encode()).hexdigest())[:n]
    records: list[dict[str, object]] = [
        {
            "id": q.query_id,
            "question": f"Which command is this: {q.text.rstrip('.')}?",
            "answers": [q.relevant],
            "sources": [q.relevant],
            "tags": ["manpage"],
        }
        for q in picked
    ]
    records += _unanswerable(UNANSWERABLE)
    _write_jsonl(folder / "golden.jsonl", records)
    return len(records)


def export_golden_faq(docs: Sequence[Doc], queries: Sequence[Query], folder: Path, n: int) -> int:
    """Write golden.jsonl: `n` FAQ questions and UNANSWERABLE_FAQ; returns items."""
    answers = {d.doc_id: d for d in docs}
    picked = sorted(queries, key=lambda q: hashlib.sha256(q.relevant.encode()).hexdigest())[:n]
    records: list[dict[str, object]] = [
        {
            "id": q.query_id,
            "question": q.text,
            "answers": [first_sentence(answers[q.relevant].text)],
            "sources": [q.relevant],
            "tags": ["faq", answers[q.relevant].module],
        }
        for q in picked
    ]
    records += _unanswerable(UNANSWERABLE_FAQ)
    _write_jsonl(folder / "golden.jsonl", records)
    return len(records)


def _unanswerable(questions: Sequence[str]) -> list[dict[str, object]]:
    return [
        {"id": f"none:{i}", "question": text, "should_abstain": True, "tags": ["unanswerable"]}
        for i, text in enumerate(questions)
    ]


def _write_jsonl(path: Path, records: Iterable[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def load_set(name: str, max_docs: int | None = None) -> tuple[list[Doc], list[Query]]:
    """The named labelled set, with each module's default cap unless `max_docs` is given."""
    load = LOADERS[name]
    return load() if max_docs is None else load(max_docs=max_docs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--set", choices=(*SETS, *GROUPS), default="both")
    parser.add_argument("--max-docs", type=int, default=None, help="cap per set")
    parser.add_argument("--golden", type=int, default=0, help="man-page QA items to write")
    parser.add_argument("--golden-faq", type=int, default=0, help="FAQ QA items to write")
    args = parser.parse_args(argv)
    for name in GROUPS.get(args.set, (args.set,)):
        docs, queries = load_set(name, args.max_docs)
        folder = args.out_dir / name
        n_docs, n_queries = export_beir(docs, queries, folder)
        kinds: dict[str, int] = {}
        for q in queries:
            kinds[q.kind] = kinds.get(q.kind, 0) + 1
        print(f"{folder}: {n_docs} documents, {n_queries} queries {kinds}, {n_queries} qrels")
        if name == "manpages" and args.golden:
            items = export_golden(queries, folder, args.golden)
            print(f"{folder / 'golden.jsonl'}: {items} QA items ({len(UNANSWERABLE)} unanswerable)")
        if name == "faq" and args.golden_faq:
            items = export_golden_faq(docs, queries, folder, args.golden_faq)
            n_none = len(UNANSWERABLE_FAQ)
            print(f"{folder / 'golden.jsonl'}: {items} QA items ({n_none} unanswerable)")


if __name__ == "__main__":
    main()
