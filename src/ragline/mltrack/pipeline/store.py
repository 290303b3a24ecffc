"""Pipeline run records on disk, and the data trigger's dataset hash.

    store = RunStore(Path(".ragline"))              # records in .ragline/pipelines/
    store.save(record)                              # atomically: written beside, then renamed
    store.load("adult-20261206T180000-ab12cd")
    store.latest("adult")                           # the newest run of a pipeline, or None
    sha = dataset_sha256(Path("data/adult.csv"))
    data_changed(store, "adult", sha)               # False: the last run saw the same bytes

One JSON file per run (``<data_dir>/pipelines/<run id>.json``): readable with any tool, and
safe to write from the CLI run and a later `pipeline approve` in another process. The data
trigger hashes the training data's bytes (every file of a folder, by relative path), so a
touched-but-unchanged file does not retrain and a changed one does.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ragline.mltrack.errors import DataError, MltrackError
from ragline.mltrack.pipeline.record import RunRecord

__all__ = ["RunStore", "data_changed", "dataset_sha256"]

_CHUNK = 1 << 20


def dataset_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, or of a folder's files (relative path + bytes).

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "rows.csv"
        >>> _ = f.write_text("x\\n1\\n")
        >>> dataset_sha256(f)[:12]
        'daff832f8020'
    """
    digest = hashlib.sha256()
    if path.is_file():
        _feed(digest, path)
    elif path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0")
            _feed(digest, item)
    else:
        raise DataError(f"cannot hash {path}: no such file or folder; check the data path")
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)


class RunStore:
    """Run records as JSON files under ``<data_dir>/pipelines``.

    Example:
        >>> import tempfile
        >>> store = RunStore(Path(tempfile.mkdtemp()))
        >>> store.latest("adult") is None
        True
    """

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "pipelines"

    def path(self, run_id: str) -> Path:
        """Where run `run_id`'s record lives."""
        if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
            raise MltrackError(f"bad pipeline run id {run_id!r}; copy it from `pipeline run`")
        return self.folder / f"{run_id}.json"

    def save(self, record: RunRecord) -> Path:
        """Write `record` (replacing its previous version) and return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(record.id)
        temp = path.with_suffix(".json.tmp")
        temp.write_text(record.to_json(), encoding="utf-8")
        os.replace(temp, path)  # a reader never sees half a record
        return path

    def load(self, run_id: str) -> RunRecord:
        """The record of `run_id`; MltrackError naming the folder when there is none."""
        path = self.path(run_id)
        if not path.is_file():
            raise MltrackError(
                f"no pipeline run {run_id!r} in {self.folder}; list them with "
                f"`ls {self.folder}` or check --config (its data_dir)"
            )
        return RunRecord.from_json(path.read_text(encoding="utf-8"))

    def runs(self, pipeline: str | None = None) -> list[RunRecord]:
        """Every run (of `pipeline`), oldest first by start time."""
        if not self.folder.is_dir():
            return []
        records = [RunRecord.from_json(p.read_text("utf-8")) for p in self.folder.glob("*.json")]
        mine = [r for r in records if pipeline is None or r.pipeline == pipeline]
        return sorted(mine, key=lambda r: (r.started, r.id))

    def latest(self, pipeline: str) -> RunRecord | None:
        """The newest run of `pipeline`, or None when it never ran."""
        runs = self.runs(pipeline)
        return runs[-1] if runs else None


def data_changed(store: RunStore, pipeline: str, sha256: str) -> bool:
    """Whether a data trigger should run: True unless the last run of `pipeline` saw the same
    dataset hash.

    Example:
        >>> import tempfile
        >>> data_changed(RunStore(Path(tempfile.mkdtemp())), "adult", "ab12")
        True
    """
    last = store.latest(pipeline)
    return last is None or last.dataset_sha256 != sha256
