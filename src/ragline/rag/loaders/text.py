"""Plain text and Markdown (front matter, section headings)."""

from __future__ import annotations

from typing import Any

import yaml

from ragline.core.types import JsonValue
from ragline.rag.errors import IngestError
from ragline.rag.loaders.common import to_json
from ragline.rag.types import Section


def load_txt(text: str) -> tuple[list[Section], dict[str, JsonValue]]:
    """A text file is one section."""
    return [Section(text=text)], {}


def split_front_matter(text: str) -> tuple[dict[str, JsonValue], str]:
    """YAML front matter between leading '---' lines, and the rest of the text."""
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return {}, text
    try:
        data: Any = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise IngestError(f"invalid YAML front matter: {exc}; fix it or remove it") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise IngestError("front matter must be a YAML mapping (key: value lines)")
    metadata = {str(k): to_json(v) for k, v in data.items()}
    return metadata, "\n".join(lines[end + 1 :])


def load_markdown(text: str) -> tuple[list[Section], dict[str, JsonValue]]:
    """Markdown cut at headings; each section carries its heading path ("Guide > Install")."""
    from markdown_it import MarkdownIt

    metadata, body = split_front_matter(text)
    lines = body.split("\n")
    headings: list[tuple[int, int, int, str]] = []  # (start line, end line, level, title)
    tokens = MarkdownIt("commonmark").parse(body)
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            headings.append((token.map[0], token.map[1], int(token.tag[1]), title))
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    _add(sections, lines[: headings[0][0] if headings else len(lines)], 0, None)
    for n, (start, end, level, title) in enumerate(headings):
        stop = headings[n + 1][0] if n + 1 < len(headings) else len(lines)
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        heading = " > ".join(t for _, t in path if t)
        _add(sections, lines[start:stop], end - start, heading)
    if not sections:
        raise IngestError("no text besides headings and front matter")
    if "title" not in metadata and headings:
        metadata["title"] = headings[0][3]
    return sections, metadata


def _add(sections: list[Section], lines: list[str], head: int, heading: str | None) -> None:
    """Keep the heading line in the text (it helps retrieval), but skip heading-only sections."""
    if "\n".join(lines[head:]).strip():
        sections.append(Section(text="\n".join(lines).strip(), section_heading=heading))
