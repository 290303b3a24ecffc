"""A second labelled retrieval set that none of us wrote: this machine's section-1 man pages.

    docs, queries = manpage_set(max_docs=600)
    write_jsonl(docs, tmp / "corpus" / "manpages.jsonl")   # same record shape as the docstring set

Every page's authors wrote both sides of a pair:

- the query is the one-line summary of its NAME section ("date - print or set the system
  date and time" gives "print or set the system date and time"): short, keyword-like, and
  mostly without the command's own name, so it differs in kind from the docstring set's
  full-sentence summaries;
- the document is the command name and its DESCRIPTION section as plain text (troff
  macros and escapes removed), cut at `MAX_WORDS` words.

Relevance: the one page the summary came from. Pages sharing a summary or a description
(aliases, links, generated families) are dropped with all their copies, as are summaries
under 3 words and descriptions under 30. Pages are read from /usr/share/man/man1 in sorted
order; the `max_docs` cap keeps the pages with the smallest SHA-256 of their name, so runs
on the same machine image give the same set.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from pathlib import Path

from labelled_sets import Doc, Query, first_by_hash

MAN_DIR = Path("/usr/share/man/man1")
MAX_WORDS = 300
MIN_QUERY_WORDS = 3
MIN_DOC_WORDS = 30
_SECTION = re.compile(r"^\.SH\s+\"?([^\"\n]+)\"?\s*$", re.M)
_ESCAPES = (
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\\((em|en|hy)"), "-"),
    (re.compile(r"\\\([a-z]{2}"), ""),
    (re.compile(r"\\\*(\(..|\[[^\]]*\]|.)"), ""),  # string registers
    (re.compile(r"\\[&,/|^%:]"), ""),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\s[-+]?\d"), ""),
    (re.compile(r"\\(.)"), r"\1"),
)


def manpage_set(max_docs: int = 600, man_dir: Path = MAN_DIR) -> tuple[list[Doc], list[Query]]:
    """Documents and `manpage` queries from the section-1 pages under `man_dir`."""
    pages: dict[str, tuple[str, str]] = {}
    for path in sorted(man_dir.glob("*.1.gz")):
        pair = _pair(path)
        if pair is not None:
            pages[path.name.removesuffix(".1.gz")] = pair
    summaries = Counter(s.lower() for s, _ in pages.values())
    texts = Counter(t for _, t in pages.values())
    unique = {
        name: pair
        for name, pair in pages.items()
        if summaries[pair[0].lower()] == 1 and texts[pair[1]] == 1
    }
    kept = first_by_hash(unique, max_docs)
    docs, queries = [], []
    for name in sorted(kept):
        summary, text = unique[name]
        docs.append(Doc(name, "man1", f"{name}\n\n{text}"))
        queries.append(Query(f"manpage:{name}", "manpage", summary, name))
    return docs, queries


def _pair(path: Path) -> tuple[str, str] | None:
    """(NAME summary, DESCRIPTION text) of one page, or None if either is missing or thin."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as page:
            source = page.read()
    except (OSError, EOFError):
        return None
    sections = _sections(source)
    name_line = _plain(sections.get("NAME", ""))
    _, dash, summary = name_line.partition(" - ")
    description = " ".join(_plain(sections.get("DESCRIPTION", "")).split()[:MAX_WORDS])
    summary = " ".join(summary.split())
    if not dash or len(summary.split()) < MIN_QUERY_WORDS:
        return None
    if len(description.split()) < MIN_DOC_WORDS:
        return None
    return summary, description


def _sections(source: str) -> dict[str, str]:
    """Section title (upper case) -> its raw troff, first occurrence of each title."""
    marks = list(_SECTION.finditer(source))
    out: dict[str, str] = {}
    for i, mark in enumerate(marks):
        following = marks[i + 1] if i + 1 < len(marks) else None
        end = following.start() if following else len(source)
        out.setdefault(mark.group(1).strip().upper(), source[mark.end() : end])
    return out


def _plain(troff: str) -> str:
    """Text of a troff fragment: request lines keep their arguments, escapes are resolved."""
    lines = []
    for line in troff.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\"')):
            continue
        if line.startswith((".", "'")):
            request, _, args = line[1:].partition(" ")
            if request in {"B", "I", "BR", "BI", "IB", "IR", "RB", "RI", "SM", "SB", "Nm"}:
                line = args.replace('"', "")
            elif request in {"IP", "TP", "PP", "LP", "P", "SS", "br", "sp", "Pp"}:
                line = "\n" + args.replace('"', "") if request in {"IP", "SS"} else "\n"
            else:
                continue
        for pattern, replacement in _ESCAPES:
            line = pattern.sub(replacement, line)
        lines.append(line)
    return " ".join(" ".join(lines).split())


if __name__ == "__main__":
    documents, all_queries = manpage_set()
    print(f"{len(documents)} documents, {len(all_queries)} queries")
    for query, doc in list(zip(all_queries, documents, strict=True))[:10]:
        print(f"{query.relevant:28} {query.text!r}\n    {doc.text[:160]!r}")
