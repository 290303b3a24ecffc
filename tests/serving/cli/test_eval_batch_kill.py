"""`ragline eval --batch` killed with SIGKILL while it polls, then rerun: the rerun resumes the
journalled batch (the fake sees no second batch for the same work) and completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragline.evals.report import from_json
from ragline.llm_router.testing.batch_fake import BatchFake
from tests.serving.services.evals.test_golden_batch import write_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cli(data: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, RAGLINE_DATA_DIR=str(data), OPENAI_API_KEY="sk-test")
    return subprocess.Popen(
        [sys.executable, "-m", "ragline.serving.cli.app", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def submitted(journal: Path) -> list[str]:
    """The batch ids the journal holds (an entry is written whole, by rename)."""
    ids: list[str] = []
    for path in journal.glob("*.json"):
        ids += [r["batch_id"] for r in json.loads(path.read_text())["rounds"]]
    return ids


def test_kill_9_mid_poll_then_rerun_resumes_the_same_batch(tmp_path: Path) -> None:
    with BatchFake(polls_until_done=10**9) as fake:  # polls until the test says otherwise
        suite = write_suite(tmp_path / "suite", fake)
        data, journal = tmp_path / ".ragline", tmp_path / ".ragline" / "batches"
        args = ("eval", str(suite), "--batch", "--no-track", "--out", str(tmp_path / "out"))

        first = cli(data, *args)
        deadline = time.monotonic() + 180
        while not submitted(journal) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        (batch_id,) = submitted(journal)
        while fake.polls.get(batch_id, 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # it is polling now
        assert first.poll() is None, "the eval finished before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.communicate()
        assert fake.batches_created == 1

        fake.polls_until_done = fake.polls[batch_id] + 1  # the next status check finds it done
        rerun = cli(data, *args)
        output, _ = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, output
        assert f"resuming {batch_id}" in output
        # the answers' batch was not submitted again; the judges' is the only new one
        assert fake.batches_created == 2 and len(submitted(journal)) == 2
        report = from_json((tmp_path / "out" / "report.json").read_text())
        assert report.aggregate("recall@3").measured == 10
        assert report.costs["answer_usd"] > 0 and report.costs["judge_usd"] > 0
