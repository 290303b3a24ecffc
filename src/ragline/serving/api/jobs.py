"""Background ingest jobs: one thread per job, one running job per collection, kept in memory.

    jobs = IngestJobs(services.ingest)
    job = jobs.submit("docs", [Path("corpus")], owner="alice")   # JobView(status="queued", ...)
    jobs.get(job.id)                              # then "running", then "done" or "failed"
    jobs.wait(job.id, timeout_s=60)               # blocks until it has finished
    jobs.close()                                  # cancel: running jobs stop after their file

A job for a collection waits while another job writes into it (two ingests into one store
would race on its manifest); `ingest_paths` also holds the collection's cross-process ingest
lock, so a job waits (logging it, status "running") while a `ragline ingest` or another
server worker writes the collection.

`done` means the run finished; files it had to skip are listed in `errors`. `failed` means it
stopped: an error that ends the whole run, or a cancel at shutdown (re-submitting resumes,
since ingest is idempotent and records only complete files).

Status lives in this process: with several server workers, a job's id is known only to the
worker that accepted it. The last `keep` finished jobs are kept; queued and running ones always.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ragline.core.costs import cost_scope
from ragline.llm_router.errors import ProviderError
from ragline.rag.errors import RagError
from ragline.rag.ingest import IngestReport, Progress

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "done", "failed"]
RunIngest = Callable[[str, Sequence[Path], Progress], IngestReport]


class JobsBusy(Exception):
    """Too many jobs are queued or running (or the runner is closed); the message says so.

    raise JobsBusy("16 ingest jobs are queued or running (the limit is 16); retry ...")
    """


class JobCancelled(Exception):
    """Raised inside a running ingest (between files) when the server shuts down.

    raise JobCancelled("cancelled: the server is shutting down; submit the job again")
    """


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Progress and results of one job: JobCounts(files_total=3, files_done=1, ...)."""

    files_total: int = 0
    files_done: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0
    documents: int = 0
    chunks_written: int = 0
    chunks_removed: int = 0


@dataclass(frozen=True, slots=True)
class JobView:
    """A snapshot of one job (what the API returns); times are Unix seconds.

    jobs.get(job_id)    # JobView(id=..., status="running", counts=JobCounts(...), ...)
    """

    id: str
    collection: str
    paths: tuple[str, ...]
    status: JobStatus
    counts: JobCounts
    errors: tuple[str, ...]
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    owner: str = ""  # the tenant that submitted it: only its keys (and admins) see the job


@dataclass(slots=True)
class _Job:
    view: JobView
    cancel: threading.Event = field(default_factory=threading.Event)


class _JobProgress:
    """The ingest's `Progress`: live counts, and the cancel point between files."""

    def __init__(self, job: _Job, count: Callable[..., None]) -> None:
        self._job, self._count = job, count

    def start(self, total_files: int) -> None:
        self._check()
        self._count(self._job, files_total=total_files)

    def file_done(self, relative: str, status: str, chunks: int) -> None:
        self._count(self._job, files_done=self._job.view.counts.files_done + 1)
        self._check()

    def _check(self) -> None:
        if self._job.cancel.is_set():
            raise JobCancelled("cancelled: the server is shutting down; submit the job again")


class IngestJobs:
    """Runs ingest jobs in background threads (see the module docstring).

    jobs = IngestJobs(run, keep=100, max_active=16)
    """

    def __init__(
        self,
        run: RunIngest,
        *,
        keep: int = 100,
        max_active: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._run = run
        self._keep = keep
        self._max_active = max_active
        self._clock = clock
        self._lock = threading.Condition()  # guards the jobs; notified when one changes
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}
        self._collection_locks: dict[str, threading.Lock] = {}
        self._closed = False

    def submit(self, collection: str, paths: Sequence[Path], owner: str = "") -> JobView:
        """Queue a job of `owner` and start its thread; JobsBusy when `max_active` jobs are
        unfinished."""
        view = JobView(
            id=uuid.uuid4().hex,
            collection=collection,
            paths=tuple(str(p) for p in paths),
            status="queued",
            counts=JobCounts(),
            errors=(),
            created_at=self._clock(),
            owner=owner,
        )
        job = _Job(view)
        with self._lock:
            if self._closed:
                raise JobsBusy("the server is shutting down; submit the job to another replica")
            active = sum(1 for j in self._jobs.values() if j.view.finished_at is None)
            if active >= self._max_active:
                raise JobsBusy(
                    f"{active} ingest jobs are queued or running (the limit is "
                    f"{self._max_active}); retry when one has finished"
                )
            self._jobs[view.id] = job
            lock = self._collection_locks.setdefault(collection, threading.Lock())
            thread = threading.Thread(
                target=self._work,
                args=(job, lock, list(paths)),
                name=f"ingest-{view.id[:8]}",
                daemon=True,  # a job still running past close()'s grace must not block exit
            )
            self._threads[view.id] = thread
        thread.start()
        return view

    def get(self, job_id: str) -> JobView | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.view if job else None

    def wait(self, job_id: str, timeout_s: float | None = None) -> JobView | None:
        """The job once it has finished, or as it is when `timeout_s` runs out; None if unknown."""

        def finished() -> bool:
            job = self._jobs.get(job_id)
            return job is None or job.view.finished_at is not None

        with self._lock:
            self._lock.wait_for(finished, timeout_s)
            job = self._jobs.get(job_id)
            return job.view if job else None

    def close(self, timeout_s: float | None = None) -> None:
        """Refuse new jobs, cancel the others (running ones stop after their current file) and
        wait for their threads, so the stores they write can be closed after."""
        with self._lock:
            self._closed = True
            threads = list(self._threads.values())
            for job in self._jobs.values():
                job.cancel.set()
        for thread in threads:
            thread.join(timeout_s)

    def _work(self, job: _Job, collection_lock: threading.Lock, paths: list[Path]) -> None:
        try:
            # one writer per collection (its manifest and store); costs billed to the job id
            with collection_lock, cost_scope(job.view.id):
                self._execute(job, paths)
        finally:
            with self._lock:
                self._threads.pop(job.view.id, None)

    def _execute(self, job: _Job, paths: list[Path]) -> None:
        if job.cancel.is_set():
            self._finish(job, "failed", ["cancelled before it started: the server shut down"])
            return
        self._update(job, replace(job.view, status="running", started_at=self._clock()))
        try:
            report = self._run(job.view.collection, paths, _JobProgress(job, self._count))
        except JobCancelled as exc:
            self._finish(job, "failed", [str(exc)])
        except (RagError, ProviderError, OSError, ValueError) as exc:
            self._finish(job, "failed", [f"{type(exc).__name__}: {exc}"])
        except Exception as exc:  # a thread's error would vanish: log it, show it in the job
            log.exception("ingest job %s failed", job.view.id)
            self._finish(job, "failed", [f"internal error ({type(exc).__name__}); see server log"])
        else:
            self._update(job, replace(job.view, counts=_counts(report, job.view.counts)))
            self._finish(job, "done", [f"{s.path}: {s.reason}" for s in report.skipped])

    def _finish(self, job: _Job, status: JobStatus, errors: list[str]) -> None:
        view = replace(job.view, status=status, errors=tuple(errors), finished_at=self._clock())
        with self._lock:
            job.view = view
            self._forget_old()
            self._lock.notify_all()

    def _update(self, job: _Job, view: JobView) -> None:
        with self._lock:
            job.view = view
            self._lock.notify_all()

    def _count(self, job: _Job, **counts: int) -> None:
        with self._lock:
            job.view = replace(job.view, counts=replace(job.view.counts, **counts))
            self._lock.notify_all()

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond `keep` (called with the lock held)."""
        finished = [i for i, j in self._jobs.items() if j.view.finished_at is not None]
        for job_id in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job_id]


def _counts(report: IngestReport, before: JobCounts) -> JobCounts:
    return JobCounts(
        files_total=before.files_total,
        files_done=before.files_done,
        files_ingested=report.files_ingested,
        files_unchanged=report.files_unchanged,
        files_skipped=len(report.skipped),
        documents=report.documents,
        chunks_written=report.chunks_written,
        chunks_removed=report.chunks_removed,
    )
