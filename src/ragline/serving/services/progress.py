"""What the CLI prints: a progress bar while ingesting and a summary afterwards."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragline.rag.ingest import IngestReport


class IngestProgress:
    """`ragline.rag.ingest.Progress` drawn as a rich progress bar on stderr."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files  {task.fields[chunks]} chunks  {task.fields[last]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task("ingest", total=0, chunks=0, last="")
        self._chunks = 0

    def __enter__(self) -> IngestProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, total_files: int) -> None:
        self._bar.update(self._task, total=total_files)

    def file_done(self, relative: str, status: str, chunks: int) -> None:
        self._chunks += chunks
        self._bar.update(
            self._task, advance=1, chunks=self._chunks, last=f"{status}: {relative[-48:]}"
        )


def print_report(console: Console, report: IngestReport, collection: str, where: str) -> None:
    """The run summary: files, chunks, time, throughput, skipped files with reasons."""
    console.print(f"ingest into collection [bold]{collection}[/] ({where})")
    console.print(
        f"  files   {report.files_seen} seen: {report.files_ingested} ingested, "
        f"{report.files_unchanged} unchanged, {len(report.skipped)} skipped"
    )
    console.print(
        f"  chunks  {report.chunks_written} written from {report.documents} documents, "
        f"{report.chunks_removed} stale removed"
    )
    for note in report.notes:
        console.print(f"  note    {note}")
    console.print(
        f"  time    {report.seconds:.1f} s (model load {report.setup_seconds:.1f} s, "
        f"embedding {report.embed_seconds:.1f} s, index build {report.index_seconds:.1f} s), "
        f"{report.chunks_per_second:.1f} chunks/s"
    )
    if report.skipped:
        console.print(f"[bold red]skipped {len(report.skipped)} file(s):[/]")
        for item in report.skipped:
            console.print(f"  {item.path}: {item.reason}", markup=False, highlight=False)
