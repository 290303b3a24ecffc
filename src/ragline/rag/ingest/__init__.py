"""The resumable, idempotent ingest job and its manifest."""

from ragline.rag.ingest.manifest import Entry, Manifest
from ragline.rag.ingest.pipeline import Ingestor, IngestSettings, reconcile
from ragline.rag.ingest.report import IngestReport, NoProgress, Progress, Skipped

__all__ = [
    "Entry",
    "IngestReport",
    "IngestSettings",
    "Ingestor",
    "Manifest",
    "NoProgress",
    "Progress",
    "Skipped",
    "reconcile",
]
