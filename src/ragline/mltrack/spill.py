"""A local append-only file of rows a database did not take: where a `BufferedTable` puts its
batch while the database is down, and where it replays them from when it returns.

    spill = SpillFile(Path(".ragline/spill"), "cost_ledger", max_bytes=64 << 20)
    spill.append([{"ts": 1.0, "usd_nanos": 300}])   # one write + one fsync per batch
    rows = spill.read()                              # this process's rows, then a dead one's
    spill.clear(rows_read=len(rows))                 # after the database took them

One file per process (`<table>.<pid>.jsonl`), so workers sharing a data folder never write
into each other's file; a file left by a process that died (its pid is gone) is adopted by the
next process that opens the same table, so a crash loses nothing that was spilled. The file is
bounded by `max_bytes`: a batch that would pass it is refused (`append` returns False) and the
caller counts it as dropped. Replay is at least once: a crash between the database's commit
and `clear` replays that batch again.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from pathlib import Path

_CLAIM = threading.Lock()  # one adoption at a time in this process
_LIVE: set[str] = set()  # owner tokens ("pid-seq") of the open SpillFiles of this process
_SEQ = itertools.count()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _owner(path: Path, name: str) -> str:
    """The "pid-seq" token of a spill file's name (`<name>.<pid>-<seq>[.<k>].jsonl`)."""
    return path.name.removeprefix(f"{name}.").split(".")[0]


def _orphan(owner: str) -> bool:
    pid = owner.split("-")[0]
    if not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return owner not in _LIVE  # closed earlier in this process
    return not _alive(int(pid))


class SpillFile:
    """Rows as JSON lines, appended and fsync'd a batch at a time; thread-safe.

    Example:
        >>> spill = SpillFile(tmp_path, "requests")  # doctest: +SKIP
        >>> spill.append([{"ts": 1.0}]), spill.read()  # doctest: +SKIP
        (True, [{'ts': 1.0}])
    """

    def __init__(self, folder: Path, name: str, max_bytes: int = 64 << 20) -> None:
        self.folder = folder
        self.name = name
        self.max_bytes = max_bytes
        self.owner = f"{os.getpid()}-{next(_SEQ)}"
        self.path = folder / f"{name}.{self.owner}.jsonl"
        self._lock = threading.Lock()
        self._read: list[Path] = []
        _LIVE.add(self.owner)

    def append(self, rows: list[dict[str, object]]) -> bool:
        """Write `rows` and fsync; False (nothing written) when the file would pass max_bytes."""
        data = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows).encode()
        with self._lock:
            size = sum(p.stat().st_size for p in self._mine())
            if size + len(data) > self.max_bytes:
                return False
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            return True

    def pending(self) -> bool:
        """True when this file, or one a closed or dead writer left, holds rows to replay."""
        with self._lock:
            return bool(self._mine()) or bool(self._orphans())

    def read(self) -> list[dict[str, object]]:
        """Every spilled row, adopted files first (a torn last line from a crash is skipped)."""
        rows: list[dict[str, object]] = []
        with self._lock:
            self._adopt()
            self._read = self._mine()
            for path in self._read:
                for line in path.read_text(encoding="utf-8").splitlines():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
        return rows

    def clear(self) -> None:
        """Forget the files the last `read` returned (the database has their rows now)."""
        with self._lock:
            for path in self._read:
                path.unlink(missing_ok=True)
            self._read = []

    def close(self) -> None:
        """Leave what is spilled for the next writer of this table to adopt."""
        _LIVE.discard(self.owner)

    def _mine(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        found = self.folder.glob(f"{self.name}.{self.owner}.*jsonl")
        # adopted files ("<owner>.<k>.jsonl") hold older rows than our own file
        return sorted(found, key=lambda p: (p == self.path, p.name))

    def _orphans(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        files = self.folder.glob(f"{self.name}.*.jsonl")
        return sorted(p for p in files if _orphan(_owner(p, self.name)))

    def _adopt(self) -> None:
        """Rename orphans into this writer's name (atomic: two adopters never both get one)."""
        with _CLAIM:
            for k, path in enumerate(self._orphans()):
                claimed = (
                    self.folder / f"{self.name}.{self.owner}.{k:06d}{os.urandom(3).hex()}.jsonl"
                )
                try:
                    path.rename(claimed)
                except FileNotFoundError:
                    continue
