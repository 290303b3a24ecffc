"""POST /v1/ingest (202 and a background job) and GET /v1/ingest/{job_id}.

    POST /v1/ingest {"paths": ["docs/"], "collection": "docs"}
    -> 202 {"id": "4f1c...", "status": "queued", ...}, Location: /v1/ingest/4f1c...
    GET /v1/ingest/4f1c...  -> {"status": "done", "counts": {"chunks_written": 42, ...}, ...}

Paths are read on the server, so only paths that resolve (symlinks followed) under the server's
working directory or `data_dir` are accepted (under the key's `ingest_roots` when it has some):
any other is refused with 403 and a message naming the allowed folders, a path inside them that
does not exist is a 404. Relative paths are relative to the working directory, as for `ragline
ingest`. The key needs the "ingest" scope, and a tenant key may ingest only into a collection it
owns or a new one, which it then owns (`ragline.serving.api.tenancy`); a job is visible to its
owner's keys and admins only. Job status is kept in the memory of the worker that accepted the
job (see `ragline.serving.api.jobs`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ragline.serving.api.context import request_id, tenant
from ragline.serving.api.jobs import JobsBusy, JobView
from ragline.serving.api.schemas import (
    IngestCounts,
    IngestJob,
    IngestRequest,
    error_docs,
    error_response,
)
from ragline.serving.api.services import ServicesDep
from ragline.serving.api.tenancy.access import claim_for_ingest, denied_response
from ragline.serving.api.tenancy.grants import Denied, Tenant

router = APIRouter(tags=["ingest"])
RETRY_BUSY_S = 5


class PathRefused(ValueError):
    """A path the server will not read (`status` 403) or cannot find (404); the message names
    the rule.

    allowed_paths(["/etc"], [Path.cwd()])    # PathRefused: '/etc' is outside the folders ...
    """

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@router.post(
    "/ingest",
    status_code=202,
    response_model=IngestJob,
    responses=error_docs(400, 403, 404, 409, 422, 429),
)
def submit_ingest(body: IngestRequest, request: Request, services: ServicesDep) -> Response:
    """Start an ingest job; poll GET /v1/ingest/{id} for its progress."""
    rid = request_id(request) or uuid.uuid4().hex
    settings, who = services.settings, tenant(request)
    collection = body.collection or settings.store.collection
    try:
        who.require("ingest")
        paths = allowed_paths(body.paths, *ingest_roots(who, settings.data_dir))
        claim_for_ingest(who, services, collection)
    except PathRefused as exc:
        code = "path_not_allowed" if exc.status == 403 else "path_not_found"
        return error_response(exc.status, str(exc), code=code, param="paths", request_id=rid)
    except Denied as exc:
        return denied_response(exc, rid)
    try:
        job = services.jobs.submit(collection, paths, owner=who.owner)
    except JobsBusy as exc:
        return error_response(
            429,
            str(exc),
            code="too_many_jobs",
            type="rate_limit_error",
            request_id=rid,
            headers={"Retry-After": str(RETRY_BUSY_S)},
        )
    headers = {"Location": f"/v1/ingest/{job.id}"}
    return JSONResponse(job_out(job).model_dump(mode="json"), status_code=202, headers=headers)


@router.get("/ingest/{job_id}", response_model=IngestJob, responses=error_docs(404, 422))
def get_ingest(
    job_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")],
    request: Request,
    services: ServicesDep,
) -> Response:
    """An ingest job's status and counts (404 for another tenant's job, as for a missing one)."""
    job = services.jobs.get(job_id)
    if job is None or not tenant(request).sees(job.owner):
        return error_response(
            404,
            f"no ingest job {job_id!r} here: jobs live in the memory of the server worker that "
            "accepted them, and only the last 100 finished ones are kept",
            code="job_not_found",
            param="job_id",
            request_id=request_id(request) or None,
        )
    return JSONResponse(job_out(job).model_dump(mode="json"))


def ingest_roots(who: Tenant, data_dir: Path) -> tuple[list[Path], str]:
    """The folders `who` may ingest from, and how to name them in a refusal."""
    if who.ingest_roots is not None:
        return list(who.ingest_roots), f"the ingest_roots of API key {who.key!r}"
    return [Path.cwd(), data_dir], "the server's working directory or data_dir"


def allowed_paths(
    raw: Sequence[str], roots: Sequence[Path], rule: str = "its working directory or data_dir"
) -> list[Path]:
    """`raw` as paths, each resolving under one of `roots` (`rule` names them in the refusal)
    and existing; PathRefused if not. The roots are checked first, so a refused caller learns
    nothing of what exists elsewhere on the server."""
    bases = [root.resolve() for root in roots]
    where = ", ".join(str(base) for base in bases)
    out: list[Path] = []
    for text in raw:
        path = Path(text)
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, no permission
            raise PathRefused(f"{text!r} cannot be read on the server: {exc}") from None
        if not any(resolved.is_relative_to(base) for base in bases):
            raise PathRefused(
                f"{text!r} is outside the folders the server may read for this key: paths must "
                f"resolve under {rule} ({where}); copy the files there"
            )
        try:
            exists = resolved.exists()
        except OSError as exc:  # a name too long for the file system
            raise PathRefused(f"{text!r} cannot be read on the server: {exc.strerror}") from None
        if not exists:
            raise PathRefused(f"{text!r} does not exist on the server", 404)
        out.append(path)
    return out


def job_out(job: JobView) -> IngestJob:
    """A job snapshot on the wire."""
    return IngestJob(
        id=job.id,
        collection=job.collection,
        paths=list(job.paths),
        status=job.status,
        counts=IngestCounts.model_validate(job.counts, from_attributes=True),
        errors=list(job.errors),
        created_at=_time(job.created_at),
        started_at=_time(job.started_at) if job.started_at is not None else None,
        finished_at=_time(job.finished_at) if job.finished_at is not None else None,
    )


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
