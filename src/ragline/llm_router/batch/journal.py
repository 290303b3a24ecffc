"""Submitted batches on disk, so a crashed or interrupted run resumes instead of paying twice.

    journal = Journal(data_dir / "batches")
    key = request_set_key("openai:gpt-4o-mini", bodies)      # SHA-256 of the work
    entry = journal.load(key) or JournalEntry(key, "openai:gpt-4o-mini", len(bodies))
    entry.rounds.append(Round("batch_abc", ["r-0", "r-1"]))
    journal.save(entry)                                       # atomic: write, then rename

One JSON file per request set, named by the SHA-256 of the deployment and the request bodies
in order: a rerun of the same work finds the batch ids it submitted and polls them again. A
round is one submitted batch (the first, then one per retry of failed items); its replies are
kept once downloaded, so a finished entry answers a second rerun without any vendor call.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from ragline.core.chat import Completion
from ragline.core.types import JsonValue
from ragline.llm_router.batch.vendors import Body
from ragline.llm_router.errors import Unavailable

_COMPLETION = TypeAdapter(Completion)


def request_set_key(deployment: str, bodies: Sequence[Body]) -> str:
    """The SHA-256 (hex) naming a request set: the deployment and every body, in order."""
    canonical = json.dumps([deployment, list(bodies)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Round:
    """One submitted batch: its id, the custom ids it carries, whether its replies are in
    (`downloaded`) and costed into the ledger (`charged`)."""

    batch_id: str
    ids: list[str]
    downloaded: bool = False
    charged: bool = False


@dataclass
class JournalEntry:
    """Everything known about one request set's batches (see the module docstring)."""

    key: str
    deployment: str
    items: int
    rounds: list[Round] = field(default_factory=list)
    replies: dict[str, Completion | str] = field(default_factory=dict)  # str: the failure
    finished: bool = False

    def pending(self) -> Round | None:
        """The round still to poll or download, if any."""
        return next((r for r in self.rounds if not r.downloaded), None)

    def to_json(self) -> str:
        replies: dict[str, JsonValue] = {
            cid: {"error": r} if isinstance(r, str) else {"completion": _dump(r)}
            for cid, r in self.replies.items()
        }
        data: dict[str, JsonValue] = {
            "key": self.key,
            "deployment": self.deployment,
            "items": self.items,
            "rounds": [
                {
                    "batch_id": r.batch_id,
                    "ids": list(r.ids),
                    "downloaded": r.downloaded,
                    "charged": r.charged,
                }
                for r in self.rounds
            ],
            "replies": replies,
            "finished": self.finished,
        }
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> JournalEntry:
        data = json.loads(text)
        replies: dict[str, Completion | str] = {}
        for cid, reply in data["replies"].items():
            error = reply.get("error")
            replies[cid] = (
                error if error is not None else _COMPLETION.validate_python(reply["completion"])
            )
        return cls(
            key=data["key"],
            deployment=data["deployment"],
            items=data["items"],
            rounds=[Round(**r) for r in data["rounds"]],
            replies=replies,
            finished=data["finished"],
        )


def _dump(completion: Completion) -> JsonValue:
    dumped: JsonValue = _COMPLETION.dump_python(completion, mode="json")
    return dumped


class Journal:
    """The folder of journal entries (`<data_dir>/batches/` by default).

    journal = Journal(Path(".ragline/batches")); journal.load(key)
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> JournalEntry | None:
        """The entry of request set `key`, or None when this work was never submitted."""
        path = self.path(key)
        try:
            return JournalEntry.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise Unavailable(
                f"batch journal {path} is unreadable ({exc}); move it away to submit the work "
                "again (its batches, if any, keep running at the vendor and are billed there)"
            ) from None

    def save(self, entry: JournalEntry) -> None:
        """Write `entry` atomically: a crash leaves the old file or the new one, never half."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(entry.key)
        part = path.with_suffix(".json.part")
        part.write_text(entry.to_json(), encoding="utf-8")
        os.replace(part, path)
