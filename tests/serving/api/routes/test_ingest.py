"""POST /v1/ingest and GET /v1/ingest/{id} on the real app, and the job runner underneath."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from ragline.rag.errors import IngestError
from ragline.rag.ingest import IngestReport, Progress
from ragline.rag.ingest.report import Skipped
from ragline.rag.store.edge import QdrantEdgeStore
from ragline.serving.api.app import create_app
from ragline.serving.api.jobs import IngestJobs, JobsBusy
from ragline.serving.api.services import Services
from tests.rag.ingest_helpers import write_corpus
from tests.serving.api.conftest import LiveServer
from tests.serving.api.test_services import api_settings, onnx_cache  # noqa: F401 - fixture

pytestmark = pytest.mark.integration
WAIT_S = 120.0  # generous: a job embeds on 2 shared cores; the test never sleeps


@pytest.fixture
def services(tmp_path: Path, onnx_cache: Path | None) -> Iterator[Services]:  # noqa: F811
    services = Services(api_settings(tmp_path, onnx_cache))
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services.settings, services))


def test_ingest_job_runs_to_done_with_counts(client: TestClient, services: Services) -> None:
    corpus = write_corpus(services.settings.data_dir / "corpus")
    response = client.post("/v1/ingest", json={"paths": [str(corpus)], "collection": "docs"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running") and job["collection"] == "docs"
    assert response.headers["location"] == f"/v1/ingest/{job['id']}"

    assert services.jobs.wait(job["id"], WAIT_S) is not None
    done = client.get(f"/v1/ingest/{job['id']}").json()
    assert done["status"] == "done", done
    counts = done["counts"]
    assert counts["files_ingested"] == counts["files_total"] == counts["files_done"] == 3
    assert counts["chunks_written"] > 3 and done["errors"] == []
    assert done["started_at"] <= done["finished_at"]
    stored = QdrantEdgeStore(services.settings.store_path(), "docs")
    assert stored.count() == counts["chunks_written"]  # read straight from the engine

    again = client.post("/v1/ingest", json={"paths": [str(corpus)], "collection": "docs"}).json()
    rerun = services.jobs.wait(again["id"], WAIT_S)
    assert rerun is not None and rerun.status == "done"
    assert (rerun.counts.files_unchanged, rerun.counts.chunks_written) == (3, 0)


def test_relative_paths_resolve_from_the_working_directory(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(services.settings.data_dir / "corpus", repeat=1)
    monkeypatch.chdir(services.settings.data_dir)
    response = client.post("/v1/ingest", json={"paths": ["corpus/rivers.md"]})
    assert response.status_code == 202, response.text
    job = services.jobs.wait(response.json()["id"], WAIT_S)
    assert job is not None and job.status == "done" and job.counts.files_ingested == 1


def test_unknown_job_is_404_and_a_malformed_id_422(client: TestClient) -> None:
    missing = client.get(f"/v1/ingest/{'0' * 32}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "job_not_found"
    assert client.get("/v1/ingest/not-a-job").status_code == 422


def test_paths_outside_the_allowed_roots_are_refused(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    outside = write_corpus(tmp_path / "elsewhere", repeat=1)
    link = services.settings.data_dir / "link"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)  # inside data_dir by name, outside once resolved
    inside = services.settings.data_dir
    for path in ("/etc", str(outside), str(link), str(inside / ".." / "elsewhere")):
        response = client.post("/v1/ingest", json={"paths": [path]})
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert error["code"] == "path_not_allowed"
        assert "working directory or data_dir" in error["message"]
    missing = client.post("/v1/ingest", json={"paths": [str(inside / "nope")]})
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [{}, {"paths": []}, {"paths": [""]}, {"paths": ["a"], "extra": 1}, {"paths": "docs"},
     {"paths": ["a"], "collection": "no spaces"}],
)  # fmt: skip
def test_bad_ingest_bodies_are_422(client: TestClient, body: object) -> None:
    response = client.post("/v1/ingest", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"]


def test_ingest_then_query_on_a_real_server(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(name="ingest")
    data_dir = Path(yaml.safe_load(server.config_path.read_text())["data_dir"])
    corpus = write_corpus(data_dir / "corpus")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        accepted = http.post("/v1/ingest", json={"paths": [str(corpus)], "collection": "docs"})
        assert accepted.status_code == 202, accepted.text
        job = _poll(http, accepted.headers["location"])
        assert job["status"] == "done" and job["counts"]["files_ingested"] == 3, job
        answer = http.post("/v1/query", json={"question": "Where do deltas form?",
                                              "collection": "docs"}).json()  # fmt: skip
        assert answer["citations"][0]["document"] == "rivers.md", answer
        found = http.post("/v1/search", json={"query": "Kepler", "collection": "docs", "k": 1})
        assert found.json()["results"][0]["source_document"] == "orbits.md"


def _poll(http: httpx.Client, location: str) -> dict[str, Any]:
    """The job once finished; polls, since it runs in the server process."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(location).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"ingest job still {job['status']} after {WAIT_S} s")


# -- the job runner, with a controllable ingest in place of the real one ------------------------


class FakeIngest:
    """An ingest whose runs block until released; records the order they ran in."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.lock = threading.Lock()
        self.entered = {name: threading.Event() for name in ("one", "two", "three", "p0", "p1")}

    def __call__(self, collection: str, paths: Sequence[Path], progress: Progress) -> IngestReport:
        with self.lock:
            self.started.append(str(paths[0]))
        progress.start(2)
        progress.file_done("a.md", "ingested", 2)
        if str(paths[0]) in self.entered:
            self.entered[str(paths[0])].set()
        self.release.wait(WAIT_S)
        progress.file_done("b.md", "skipped", 0)
        if str(paths[0]) == "boom":
            raise IngestError("boom does not exist; give a file or a folder to ingest")
        report = IngestReport(files_seen=2, files_ingested=1, chunks_written=2)
        report.skipped.append(Skipped("b.md", "not UTF-8"))
        return report


def test_jobs_for_one_collection_run_one_at_a_time() -> None:
    ingest = FakeIngest()
    jobs = IngestJobs(ingest)
    first = jobs.submit("docs", [Path("one")])
    second = jobs.submit("docs", [Path("two")])
    other = jobs.submit("other", [Path("three")])
    assert ingest.entered["one"].wait(WAIT_S) and ingest.entered["three"].wait(WAIT_S)
    running = jobs.get(first.id)
    assert running is not None and running.status == "running"
    assert running.counts.files_done == 1 and running.counts.files_total == 2
    queued = jobs.get(second.id)
    assert queued is not None and queued.status == "queued"  # "docs" is busy; "other" is not
    assert not ingest.entered["two"].is_set()
    ingest.release.set()
    finished = [jobs.wait(job.id, WAIT_S) for job in (first, second, other)]
    assert [job.status for job in finished if job] == ["done", "done", "done"]
    assert ingest.started.index("one") < ingest.started.index("two")
    done = finished[0]
    assert done is not None and done.errors == ("b.md: not UTF-8",)
    assert (done.counts.files_ingested, done.counts.files_skipped) == (1, 1)
    jobs.close()


def test_a_failing_run_marks_the_job_failed() -> None:
    ingest = FakeIngest()
    ingest.release.set()
    jobs = IngestJobs(ingest)
    job = jobs.wait(jobs.submit("docs", [Path("boom")]).id, WAIT_S)
    assert job is not None and job.status == "failed"
    assert job.errors == ("IngestError: boom does not exist; give a file or a folder to ingest",)
    jobs.close()


def test_history_is_bounded_and_active_jobs_are_capped() -> None:
    ingest = FakeIngest()
    jobs = IngestJobs(ingest, keep=2, max_active=2)
    held = [jobs.submit(f"c{i}", [Path(f"p{i}")]) for i in range(2)]
    with pytest.raises(JobsBusy, match="the limit is 2"):
        jobs.submit("c9", [Path("p9")])
    ingest.release.set()
    for job in held:
        jobs.wait(job.id, WAIT_S)
    ids = []
    for i in range(3):
        ids.append(jobs.submit("d", [Path(f"q{i}")]).id)
        jobs.wait(ids[-1], WAIT_S)
    assert jobs.get(ids[0]) is None  # the oldest finished job is forgotten
    assert [jobs.get(i) is not None for i in ids[1:]] == [True, True]
    jobs.close()


def test_close_cancels_running_and_queued_jobs() -> None:
    ingest = FakeIngest()
    jobs = IngestJobs(ingest)
    running = jobs.submit("docs", [Path("one")])
    queued = jobs.submit("docs", [Path("two")])
    assert ingest.entered["one"].wait(WAIT_S)
    jobs.close(timeout_s=0.01)  # cancels; the fake is still blocked, so the join gives up
    ingest.release.set()  # the run goes on to its next file, where the cancel stops it
    first, second = jobs.wait(running.id, WAIT_S), jobs.wait(queued.id, WAIT_S)
    assert first is not None and first.status == "failed" and "shutting down" in first.errors[0]
    assert second is not None and second.status == "failed"
    assert "cancelled before it started" in second.errors[0]
    with pytest.raises(JobsBusy, match="shutting down"):
        jobs.submit("docs", [Path("three")])
