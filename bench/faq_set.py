"""A labelled question -> answer set that none of us wrote: the FAQ files on this machine.

    docs, queries = faq_set(max_docs=400)
    write_jsonl(docs, tmp / "corpus" / "faq.jsonl")   # same record shape as the other sets

Debian packages and toolchains ship their projects' FAQs (`SOURCES`: socat, xz, lsof, sed,
valgrind, zlib, procps, man-db, ncurses, base-files, Git's gitfaq(7), Universal Ctags'
ctags-faq(7), the Cargo book, three Perl module FAQs, and the FAQs of the AWS CLI's S3
commands, requests, chardet and charset_normalizer). Their maintainers wrote both sides:

- the query (kind `faq`) is a question as written in the file ("How do I ignore changes to a
  tracked file?"), so it shares few words with its answer, unlike the docstring summaries;
- the document is the answer below it, without the question, on one line and cut at
  `MAX_WORDS` words; doc_id is "<source>:<section number, anchor or running number>".

Each file format has one small parser (`FORMATS`): "Q:/A:" markers, numbered headings,
hanging indents (also man pages rendered with `man -l`), underlined (setext/rst) headings,
pod, mdbook HTML, and "****" separators. A heading counts as a question only where it has a
question mark (so chapter titles are not; in a numbered file the body's entry replaces the
contents line with the same number); entries of the "Q:" and "****" files are questions by
their markers. Relevance: the one answer written for the
question. Pairs whose answer has under `MIN_ANSWER_WORDS` words are dropped, and so are
questions or answers that occur twice (across all files, case ignored), with every copy.
A missing source file is skipped and the sources used are logged (stderr) with their
counts. Order follows `SOURCES` and each file; the `max_docs` cap keeps the pairs with the
smallest SHA-256 of their doc_id. On this machine all 20 sources are found and 502 pairs
qualify before the cap (lsof 293, sed 37, zlib 29, gitfaq 17, xz-utils 16, ...; the gnupg
FAQ is only a pointer to the web and is not read); with the default cap of 400, questions
have a median of 10 words and answers 108; split_of puts 193 in dev and 207 in test.

`UNANSWERABLE_FAQ` are questions in the same style that no source answers (cooking,
geography, sport, pets), for QA suites that score abstention.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from glob import glob
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

from labelled_sets import Doc, Query

MIN_ANSWER_WORDS = 15
MAX_WORDS = 300


class Source(NamedTuple):
    name: str
    pattern: str  # a path or glob; the first match (sorted) is read
    format: str  # a key of FORMATS


_DOC = "/usr/share/doc"
_GSUTIL = "/usr/lib/google-cloud-sdk/platform/gsutil/third_party"
_PERL = "/usr/share/perl/5.*"
SOURCES = (
    Source("base-files", f"{_DOC}/base-files/FAQ", "qa"),
    Source("socat", f"{_DOC}/socat/FAQ", "qa"),
    Source("xz-utils", f"{_DOC}/xz-utils/faq.txt.gz", "qa"),
    Source("lsof", f"{_DOC}/lsof/00FAQ.gz", "numbered"),
    Source("sed", f"{_DOC}/sed/sedfaq.txt.gz", "numbered"),
    Source("valgrind", f"{_DOC}/valgrind/FAQ.txt.gz", "numbered"),
    Source("zlib", f"{_DOC}/zlib1g-dev/FAQ.gz", "numbered"),
    Source("procps", f"{_DOC}/procps/FAQ.gz", "hanging"),
    Source("gitfaq", "/usr/share/man/man7/gitfaq.7.gz", "man"),
    Source("ctags", "/usr/share/man/man7/ctags-universal-faq.7.gz", "man"),
    Source("man-db", f"{_DOC}/man-db/FAQ", "setext"),
    Source(
        "awscli-s3",
        "~/.pyenv/versions/*/lib/python3*/site-packages/awscli/topics/s3-faq.rst",
        "setext",
    ),
    Source("requests", f"{_GSUTIL}/requests/docs/community/faq.rst", "setext"),
    Source("chardet", f"{_GSUTIL}/chardet/docs/faq.rst", "setext"),
    Source("charset-normalizer", f"{_GSUTIL}/charset_normalizer/docs/community/faq.rst", "setext"),
    Source("perl-makemaker", f"{_PERL}/ExtUtils/MakeMaker/FAQ.pod", "pod"),
    Source("perl-libnet", f"{_PERL}/Net/libnetFAQ.pod", "pod"),
    Source("perl-io-compress", f"{_PERL}/IO/Compress/FAQ.pod", "pod"),
    Source("cargo", "~/.rustup/toolchains/stable-*/share/doc/rust/html/cargo/faq.html", "html"),
    Source("ncurses", f"{_DOC}/ncurses-base/FAQ", "separator"),
)

UNANSWERABLE_FAQ = (
    "How long should I rest a steak after taking it off the grill?",
    "Why does my sourdough starter smell like nail polish remover?",
    "Can I use baking soda instead of baking powder in pancakes?",
    "Why does bread go stale faster in the fridge?",
    "How do I get red wine stains out of a cotton shirt?",
    "What is the longest river in South America?",
    "Which country has the most time zones?",
    "What is the tallest mountain in Africa?",
    "Which is the largest hot desert in the world?",
    "How long does it take to walk the Camino de Santiago?",
    "How many players does a volleyball team have on court?",
    "How many Grand Slam tournaments are played in tennis each year?",
    "Why is a marathon 42.195 kilometres long?",
    "What does icing mean in ice hockey?",
    "How do I keep basil alive on a windowsill?",
    "When is the best time of year to prune apple trees?",
    "Why do cats knead blankets with their paws?",
    "How do I teach a dog to stop pulling on the lead?",
    "What is the difference between a crocodile and an alligator?",
    "How often should a piano be tuned?",
)

Entry = tuple[str, str, str]  # (label, question, answer) as parsed, before cleaning
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_RULE = re.compile(r"^\s*([-=~_*#^+.])\1{2,}\s*$")  # a line of one repeated mark


def faq_set(max_docs: int = 400) -> tuple[list[Doc], list[Query]]:
    """Documents and `faq` queries from the FAQ files of SOURCES that exist here."""
    pairs: list[tuple[str, str, str, str]] = []  # (doc_id, source, question, answer)
    for source in SOURCES:
        text = _read(source)
        for label, question, answer in [] if text is None else FORMATS[source.format](text):
            q, a = " ".join(question.split()), _clean(answer)
            if len(a.split()) >= MIN_ANSWER_WORDS:
                pairs.append((f"{source.name}:{label}", source.name, q, a))
    counts = Counter(text.lower() for _, _, q, a in pairs for text in (q, a))
    unique = [p for p in pairs if counts[p[2].lower()] == counts[p[3].lower()] == 1]
    used = Counter(source for _, source, _, _ in unique)
    summary = ", ".join(f"{name} {n}" for name, n in used.items())
    missing = ", ".join(s.name for s in SOURCES if s.name not in used)
    print(
        f"faq_set: {len(unique)} pairs from {summary}; none from: {missing or '-'}", file=sys.stderr
    )
    keep = set(sorted((p[0] for p in unique), key=_sha)[:max_docs])
    chosen = [p for p in unique if p[0] in keep]
    docs = [Doc(doc_id, source, answer) for doc_id, source, _, answer in chosen]
    queries = [Query(f"faq:{doc_id}", "faq", q, doc_id) for doc_id, _, q, _ in chosen]
    return docs, queries


def first_sentence(text: str) -> str:
    """The first sentence of an answer: the gold answer of a FAQ QA item."""
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _read(source: Source) -> str | None:
    """The file's text (man pages rendered to plain text), or None if it is not here."""
    matches = sorted(glob(os.path.expanduser(source.pattern)))
    if not matches:
        return None
    path = Path(matches[0])
    if source.format == "man":
        env = {**os.environ, "MANWIDTH": "1000", "MAN_KEEP_FORMATTING": "", "LC_ALL": "C.UTF-8"}
        try:
            done = subprocess.run(
                ["man", "-l", str(path)], capture_output=True, text=True, env=env, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as file:
            return file.read()
    return path.read_text(encoding="utf-8", errors="replace")


def _clean(answer: str) -> str:
    """One line of at most MAX_WORDS words, without rules (----, ****) and markup."""
    lines = [line for line in answer.splitlines() if not _RULE.match(line)]
    text = " ".join(" ".join(lines).split()[:MAX_WORDS])
    text = re.sub(r":[\w:-]+:`([^`<]*?)\s*(<[^>]*>)?`", r"\1", text)  # rst roles
    text = re.sub(r"`([^`<]*?)\s*<[^>]*>`_{1,2}", r"\1", text)  # rst links
    return re.sub(r"``([^`]*)``", r"\1", text)


def _parse_qa(text: str) -> list[Entry]:
    """`Q:` (or `Q.`) then `A:` at line starts; a question with no answer of its own is skipped."""
    parts = re.split(r"^([QA])[:.][ \t]+", text, flags=re.M)[1:]
    marks = list(zip(parts[::2], parts[1::2], strict=True))
    pairs = [(q, a) for (m, q), (n, a) in itertools.pairwise(marks) if m + n == "QA"]
    return [(str(i + 1), q, a) for i, (q, a) in enumerate(pairs)]


_NUMBERED = re.compile(r"^ {0,2}(\d+(?:\.\d+)+\.?|\d+\.)[ \t]+(\S.*)$")


def _parse_numbered(text: str) -> list[Entry]:
    """`1.2.3 Question?` headings (a heading goes on until its `?` or a blank line); the answer
    runs to the next heading. A number seen again (contents, then body) keeps the last one."""
    entries: dict[str, list[str]] = {}
    label, in_heading = "", False
    for line in text.splitlines():
        match = _NUMBERED.match(line)
        if match:
            label, in_heading = match.group(1).rstrip("."), "?" not in line
            entries[label] = [match.group(2), ""]
        elif label and in_heading and line.strip():
            entries[label][0] += " " + line.strip()
            in_heading = "?" not in line
        elif label:
            in_heading = False
            entries[label][1] += line + "\n"
    return [(k, q, a) for k, (q, a) in entries.items() if "?" in q]


def _indent(line: str) -> int:
    return len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())


def _parse_hanging(text: str) -> list[Entry]:
    """A question line with a `?` whose following lines are indented deeper: the answer."""
    lines, entries, i = text.splitlines(), list[Entry](), 0
    while i < len(lines):
        line, end = lines[i], i + 1
        while "?" in line and end < len(lines):
            if lines[end].strip() and _indent(lines[end]) <= _indent(line):
                break
            end += 1
        if end > i + 1 and any(part.strip() for part in lines[i + 1 : end]):
            entries.append((str(len(entries) + 1), line, "\n".join(lines[i + 1 : end])))
            i = end
        else:
            i += 1
    return entries


def _parse_setext(text: str) -> list[Entry]:
    """Underlined headings (`Title?` over `=====`); underline marks rank in order of first use,
    and an answer runs to the next heading of the same rank or above. `Q: ` is dropped."""
    lines = text.splitlines()
    heads = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip() and _RULE.match(lines[i + 1]) and not _RULE.match(lines[i])
    ]
    ranks: list[str] = []
    for i in heads:
        if lines[i + 1].strip()[0] not in ranks:
            ranks.append(lines[i + 1].strip()[0])
    rank = {i: ranks.index(lines[i + 1].strip()[0]) for i in heads}
    entries: list[Entry] = []
    for i in heads:
        question = re.sub(r"^Q:\s*", "", lines[i].strip())
        if "?" not in question:
            continue
        end = next((j for j in heads if j > i and rank[j] <= rank[i]), len(lines))
        body = [line for line in lines[i + 2 : end] if not line.lstrip().startswith(".. ")]
        entries.append((str(len(entries) + 1), question, "\n".join(body)))
    return entries


def _parse_pod(text: str) -> list[Entry]:
    """`=head2`/`=item` questions; the answer is the text up to the next heading or item
    (bullet items stay in it), pod codes such as C<...> reduced to their text."""
    entries: list[Entry] = []
    question: str | None = None
    answer: list[str] = []
    for paragraph in [*re.split(r"\n\s*\n", text), "=head1 END"]:
        command, _, rest = paragraph.partition(" ")
        heading = re.fullmatch(r"=head\d|=item", command) and not re.match(r"[*\d]", rest)
        if heading and question is not None:
            entries.append((str(len(entries) + 1), question, _pod_text("\n".join(answer))))
        if heading:
            question, answer = (rest if "?" in rest else None), []
        elif paragraph.startswith("=item"):
            answer.append(rest.lstrip("*0123456789. "))
        elif not paragraph.startswith("="):
            answer.append(paragraph)
    return [(label, _pod_text(q), a) for label, q, a in entries]


def _pod_text(pod: str) -> str:
    """Pod with its formatting codes (C<x>, L<text|target>, B<< x >>) reduced to their text."""
    pod = re.sub(r"[A-Z]<<+\s(.*?)\s>>+", r"\1", pod)
    previous = None
    while previous != pod:
        previous = pod
        pod = re.sub(r"L<([^<>|]*)\|[^<>]*>", r"\1", pod)
        pod = re.sub(r"[A-Z]<([^<>]*)>", r"\1", pod)
    return pod


class _HeadingText(HTMLParser):
    """Text under each heading of an HTML page's <main>: [(anchor id, heading, text)]."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[list[str]] = []
        self._in_main = self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_main |= tag == "main"
        if self._in_main and re.fullmatch(r"h[1-6]", tag):
            self._in_heading = True
            self.sections.append([dict(attrs).get("id") or str(len(self.sections) + 1), "", ""])
        elif self._in_main and tag in {"p", "li", "pre", "tr", "br", "div"}:
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        self._in_main &= tag != "main"
        self._in_heading &= not re.fullmatch(r"h[1-6]", tag)

    def handle_data(self, data: str) -> None:
        if self._in_main and self.sections:
            self.sections[-1][1 if self._in_heading else 2] += data


def _parse_html(text: str) -> list[Entry]:
    """mdbook pages: a heading with a `?` in <main>, and the text up to the next heading."""
    parser = _HeadingText()
    parser.feed(text)
    return [(anchor, q, a) for anchor, q, a in parser.sections if "?" in q]


def _parse_separator(text: str) -> list[Entry]:
    """Blocks between `****` lines: the first paragraph states the problem, the rest answers."""
    blocks = re.split(r"^\*{3,}\s*$", text, flags=re.M)
    entries: list[Entry] = []
    for block in blocks:
        question, _, answer = block.strip().partition("\n\n")
        entries.append((str(len(entries) + 1), question, answer))
    return entries


FORMATS: dict[str, Callable[[str], list[Entry]]] = {
    "qa": _parse_qa,
    "numbered": _parse_numbered,
    "hanging": _parse_hanging,
    "man": _parse_hanging,  # rendered by `man -l`: questions hang over their answers
    "setext": _parse_setext,
    "pod": _parse_pod,
    "html": _parse_html,
    "separator": _parse_separator,
}


if __name__ == "__main__":
    documents, all_queries = faq_set()
    print(f"{len(documents)} documents, {len(all_queries)} queries")
    for query, doc in list(zip(all_queries, documents, strict=True))[:12]:
        print(f"{query.relevant:24} {query.text!r}\n    {doc.text[:160]!r}")
