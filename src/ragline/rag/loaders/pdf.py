"""PDF: text per page (pypdf), with page numbers and the document's own metadata."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ragline.core.types import JsonValue
from ragline.rag.errors import IngestError
from ragline.rag.loaders.common import parse_date
from ragline.rag.types import Section

# pypdf logs every recoverable oddity of a damaged file; the summary reports what matters.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_pdf(data: bytes) -> tuple[list[Section], dict[str, JsonValue]]:
    """One section per page that has text; page numbers count from 1."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError("encrypted PDF; decrypt it (e.g. qpdf --decrypt) and ingest again")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise IngestError(f"corrupt PDF ({type(exc).__name__}: {exc}); re-export it") from None
    except NotImplementedError as exc:  # e.g. a stream filter pypdf does not know
        raise IngestError(
            f"PDF uses a feature pypdf cannot read ({exc}); re-export it (e.g. print to PDF)"
        ) from None
    sections = [
        Section(text=text.strip(), page_number=number)
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise IngestError("PDF has no extractable text (scanned images?); run OCR first")
    metadata: dict[str, JsonValue] = {}
    if info is not None:
        if info.title:
            metadata["title"] = str(info.title)
        if info.author:
            metadata["author"] = str(info.author)
        try:
            created = info.creation_date
        except (ValueError, TypeError):
            created = None
        if created is not None:
            metadata["date_created"] = parse_date(created)
    metadata["page_count"] = len(pages)
    return sections, metadata
