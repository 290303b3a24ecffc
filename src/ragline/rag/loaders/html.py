"""HTML: the main text (no scripts, navigation or footers), the title, and heading sections."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from ragline.core.types import JsonValue
from ragline.rag.errors import IngestError
from ragline.rag.types import Section

# <title> is read into metadata first; it is noise only when a fragment has no <body>.
_NOISE = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "title",
)
_CONTENT = ("main", "article")
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = _HEADINGS | {
    "p",
    "div",
    "li",
    "tr",
    "pre",
    "blockquote",
    "section",
    "article",
    "br",
    "table",
    "dd",
    "dt",
}


def load_html(text: str) -> tuple[list[Section], dict[str, JsonValue]]:
    """Sections of the main content (<main>, <article> or <body>), cut at h1-h6."""
    soup = BeautifulSoup(text, "html.parser")
    metadata: dict[str, JsonValue] = {}
    if soup.title and soup.title.get_text(strip=True):
        metadata["title"] = soup.title.get_text(" ", strip=True)
    for tag in soup.find_all(_NOISE):
        if tag.name == "header" and tag.find_parent(_CONTENT):
            continue  # an article's own header holds its title, not site chrome
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    sections: list[Section] = []
    heading: str | None = None
    parts: list[str] = []
    for node in root.descendants:
        if isinstance(node, Tag) and node.name in _HEADINGS:
            _flush(sections, parts, heading)
            heading = node.get_text(" ", strip=True) or heading
            parts = [heading or "", "\n"]
        elif _is_text(node):
            parts.append(str(node))
        elif isinstance(node, Tag) and node.name in _BLOCKS:
            parts.append("\n")
    _flush(sections, parts, heading)
    if not sections:
        raise IngestError("HTML has no visible text in <main>, <article> or <body>")
    if "title" not in metadata:
        first = root.find(list(_HEADINGS))
        if first is not None:
            metadata["title"] = first.get_text(" ", strip=True)
    return sections, metadata


def _is_text(node: object) -> bool:
    """Visible text: not a comment, CDATA or doctype, and not a heading's own text."""
    if not isinstance(node, NavigableString) or isinstance(node, PreformattedString):
        return False
    return not any(p.name in _HEADINGS for p in node.parents if isinstance(p, Tag))


def _flush(sections: list[Section], parts: list[str], heading: str | None) -> None:
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(parts))
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    body = text[len(heading) :] if heading and text.startswith(heading) else text
    if body.strip():
        sections.append(Section(text=text, section_heading=heading))
