"""Ingest on a real local Ray cluster (2 CPUs, loopback): the same collection as in-process."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qdrant_edge as qe
import ray

from ragline.core.embedding import Embedder, EmbedKind
from ragline.core.types import FloatMatrix
from ragline.rag.config import EmbeddingConfig
from ragline.rag.errors import IngestError
from ragline.rag.ingest import IngestReport
from ragline.rag.ingest.ray_engine import RayEmbedder, RayOptions, actor_cpus, ray_mapper
from tests.rag.ingest_helpers import make_ingestor, write_corpus

DEADLINE_S = 240  # one ingest on the cluster, model loads included
KILL_AFTER_S = 0.3  # into the first embed call (~180 chunks: about a second on 2 CPUs)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def bounded(work: Callable[[], IngestReport]) -> IngestReport:
    """Run `work` in a thread; fail the test, not hang it, past the deadline."""
    result: list[IngestReport] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), f"ingest on Ray took over {DEADLINE_S} s"
    if errors:
        raise errors[0]
    return result[0]


def ingest(tmp: Path, embedder: Embedder, corpus: Path) -> IngestReport:
    """One ingest like a CLI call (fresh store and manifest), on Ray when `embedder` is."""

    def run() -> IngestReport:  # in the worker thread: SQLite objects stay in their thread
        ingestor = make_ingestor(tmp, embedder)
        if isinstance(embedder, RayEmbedder):
            ingestor.mapper = ray_mapper(embedder.options)
        try:
            return ingestor.run([corpus])
        finally:
            ingestor.store.close()
            ingestor.manifest.close()

    return bounded(run)


def points(shard_path: Path) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    """Every point of an Edge shard: id -> (payload, dense vector)."""
    shard = qe.EdgeShard.load(str(shard_path))
    out: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
    offset = None
    while True:
        request = qe.ScrollRequest(offset=offset, limit=256, with_payload=True, with_vector=True)
        records, offset = shard.scroll(request)
        for record in records:
            vector = record.vector
            dense = vector[""] if isinstance(vector, dict) and "" in vector else vector
            if isinstance(dense, dict):
                dense = next(v for v in dense.values() if isinstance(v, list))
            out[str(record.id)] = (dict(record.payload or {}), np.asarray(dense, np.float32))
        if offset is None:
            break
    shard.close()
    return out


def assert_same_collection(
    left: dict[str, tuple[dict[str, Any], np.ndarray]],
    right: dict[str, tuple[dict[str, Any], np.ndarray]],
) -> None:
    assert len(left) == len(right) > 3
    assert set(left) == set(right)
    for point_id, (payload, vector) in left.items():
        other_payload, other_vector = right[point_id]
        assert payload == other_payload
        cosine = float(vector @ other_vector) / float(
            np.linalg.norm(vector) * np.linalg.norm(other_vector)
        )
        assert cosine >= 0.9999, (point_id, cosine)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.usefixtures("cluster")
def test_ray_ingest_equals_in_process_and_its_rerun_skips_every_file(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    local = ingest(tmp_path / "local", embedder, corpus)
    with RayEmbedder(EmbeddingConfig(), RayOptions(actors=2)) as on_ray:
        first = ingest(tmp_path / "ray", on_ray, corpus)
    with RayEmbedder(EmbeddingConfig(), RayOptions(actors=2)) as idle:
        rerun = ingest(tmp_path / "ray", idle, corpus)
        started = idle.started

    assert (first.files_ingested, first.chunks_written) == (3, local.chunks_written)
    assert_same_collection(
        points(tmp_path / "local" / "qdrant" / "test"), points(tmp_path / "ray" / "qdrant" / "test")
    )
    assert (rerun.files_unchanged, rerun.files_ingested, rerun.chunks_written) == (3, 0, 0)
    assert not started, "a rerun that skips every file must not start embed actors"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.usefixtures("cluster")
def test_a_killed_embed_actor_is_restarted_and_the_collection_is_the_same(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(tmp_path / "corpus", repeat=30)
    local = ingest(tmp_path / "local", embedder, corpus)
    with KilledMidBatch(EmbeddingConfig(), RayOptions(actors=1)) as on_ray:
        pid = worker_pid(on_ray)
        report = ingest(tmp_path / "ray", on_ray, corpus)
        assert on_ray.killer is not None
        on_ray.killer.join()
        restarted = worker_pid(on_ray)

    assert restarted != pid, "the embed actor was not killed during the ingest"

    assert report.chunks_written == local.chunks_written and not report.failed
    assert_same_collection(
        points(tmp_path / "local" / "qdrant" / "test"), points(tmp_path / "ray" / "qdrant" / "test")
    )


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.usefixtures("cluster")
def test_a_changed_file_is_replaced_as_in_process(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    with RayEmbedder(EmbeddingConfig(), RayOptions(actors=1)) as on_ray:
        ingest(tmp_path / "ray", on_ray, corpus)
        ingest(tmp_path / "local", embedder, corpus)
        (corpus / "rivers.md").write_text("# Rivers\n\nThe Amazon carries the most water.\n")
        changed = ingest(tmp_path / "ray", on_ray, corpus)
        ingest(tmp_path / "local", embedder, corpus)

    assert (changed.files_ingested, changed.files_unchanged) == (1, 2)
    assert changed.chunks_removed > 0
    assert_same_collection(
        points(tmp_path / "local" / "qdrant" / "test"), points(tmp_path / "ray" / "qdrant" / "test")
    )


class KilledMidBatch(RayEmbedder):
    """A `RayEmbedder` whose actor process gets SIGKILL while it embeds the first batch."""

    killer: threading.Timer | None = None

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix:
        if self.killer is None:
            pid = worker_pid(self)
            self.killer = threading.Timer(KILL_AFTER_S, os.kill, (pid, signal.SIGKILL))
            self.killer.start()
        return super().embed(texts, kind)


def worker_pid(embedder: RayEmbedder) -> int:
    actor = embedder.actors()[0]
    return int(ray.get(actor.__ray_call__.remote(lambda _: os.getpid()), timeout=120))


@pytest.mark.unit
def test_options_name_the_fix() -> None:
    with pytest.raises(IngestError, match="--actors must be at least 1"):
        RayOptions(actors=0)
    with pytest.raises(IngestError, match="--num-cpus must be above 0"):
        RayOptions(num_cpus=0)


@pytest.mark.integration
@pytest.mark.usefixtures("cluster")
def test_actors_share_the_cluster_and_never_ask_for_more_than_it_has() -> None:
    assert actor_cpus(RayOptions(actors=4)) == 0.5  # 2 CPUs: every actor is placed
    assert actor_cpus(RayOptions(actors=1)) == 2.0
    assert actor_cpus(RayOptions(actors=2, num_cpus=1)) == 1.0
    with pytest.raises(IngestError, match="has 2 CPUs and 0 GPUs; 2 actors with 2 CPUs"):
        actor_cpus(RayOptions(actors=2, num_cpus=2))  # would wait for CPUs forever
    with pytest.raises(IngestError, match="lower --actors, --num-cpus or --num-gpus"):
        actor_cpus(RayOptions(actors=1, num_gpus=1))
