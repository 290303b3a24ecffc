"""What a torch-free start of the ONNX query path needs: a sidecar beside each checked export,
and the model's tokenizer from the `tokenizers` package alone.

    sidecar = find_sidecar(cache_dir, "all-MiniLM-L6-v2", model_folder)  # None: missing or stale
    if sidecar is not None:
        tokenizer = PlainTokenizer.load(sidecar)
        tokenizer(["a query"])["input_ids"]           # int64 (1, tokens), as the HF call gives

`OnnxQueryEncoder.load` (the torch path) writes `<export>.json` once the export has matched torch
on probe sentences and `PlainTokenizer` has matched the model's own tokenizer; it copies the
tokenizer beside it as `<export stem>.tokenizer.json`. The sidecar records the pipeline's `Plan`,
the embedding dimension, the model folder with the size and mtime of every file in it, the export's
size and mtime, and the versions of the packages the check ran with. `find_sidecar` trusts a
sidecar only while all of that still holds (a stat per file and a metadata read per package,
nothing imported); anything else is None, and the torch path then checks again and rewrites it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

SIDECAR_FORMAT = 1
# The agreement check holds for these versions: any change re-checks on the torch path.
VERSIONED = ("torch", "transformers", "sentence-transformers", "tokenizers", "onnxruntime")
_MAX_FILES = 1000  # a model folder, not a home directory: more than this is no model

# The plain tokenizer must give the HF tokenizer's ids on these before a sidecar is written:
# accents, CJK, emoji, odd spacing, and a text far beyond any window (truncation).
TOKEN_PROBES = (
    "ragline checks that the plain tokenizer and the model's give the same ids.",
    "short probe",
    "  Ünïcödé  façade — 日本語のクエリ 🚀\t",
    "overflow " * 600,
)

FileStamp = tuple[str, int, int]  # (path, size in bytes, mtime in ns)
IntMatrix = NDArray[np.int64]
Tokenize = Callable[[Sequence[str]], Mapping[str, IntMatrix]]


@dataclass(frozen=True, slots=True)
class Plan:
    """What the ONNX path must reproduce of the SentenceTransformer pipeline."""

    pooling: Literal["mean", "cls"]
    normalize: bool
    inputs: tuple[str, ...]
    max_length: int


@dataclass(frozen=True, slots=True)
class Padding:
    """How the model's tokenizer pads and truncates a batch (the HF tokenizer's settings)."""

    side: Literal["left", "right"]
    pad_id: int
    pad_type_id: int
    pad_token: str
    truncation_side: Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class Sidecar:
    """One checked export: enough to serve queries with no torch, and to tell when it is stale.

    `source` is the model folder the pipeline was loaded from; `files` stamps every file in it
    (paths relative to it), so a changed weight, pooling or tokenizer file makes it stale.
    `export` and `tokenizer` are file names in the sidecar's own folder.
    """

    name: str
    source: str
    files: tuple[FileStamp, ...]
    export: FileStamp
    tokenizer: str
    versions: tuple[tuple[str, str | None], ...]
    plan: Plan
    padding: Padding
    dims: int


def cache_slug(name: str) -> str:
    """A model name as a file-name prefix: `org/model name` -> `org_model_name`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def sidecar_path(export: Path) -> Path:
    """`<cache>/<model>-<key>.onnx` -> `<cache>/<model>-<key>.onnx.json`."""
    return export.with_name(export.name + ".json")


def tokenizer_path(export: Path) -> Path:
    """`<cache>/<model>-<key>.onnx` -> `<cache>/<model>-<key>.tokenizer.json`."""
    return export.with_name(export.stem + ".tokenizer.json")


def package_versions() -> tuple[tuple[str, str | None], ...]:
    """The installed versions of `VERSIONED` (None: not installed), read without importing."""
    found: list[tuple[str, str | None]] = []
    for package in VERSIONED:
        try:
            found.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            found.append((package, None))
    return tuple(found)


def folder_stamps(folder: Path) -> tuple[FileStamp, ...] | None:
    """Every non-hidden file under `folder` with its size and mtime; None if it is no folder."""
    if not folder.is_dir():
        return None
    stamps: list[FileStamp] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(root) / name
            stat = path.stat()
            stamps.append((path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns))
            if len(stamps) > _MAX_FILES:
                return None
    return tuple(stamps)


def file_stamp(path: Path) -> FileStamp | None:
    """(file name, size, mtime) of `path`, or None when it is missing."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (path.name, stat.st_size, stat.st_mtime_ns)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temp file, so a reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_sidecar(sidecar: Sidecar, path: Path) -> None:
    """Save `sidecar` as JSON at `path`, atomically."""
    write_atomically(path, json.dumps({"format": SIDECAR_FORMAT, **asdict(sidecar)}, indent=1))


def read_sidecar(path: Path) -> Sidecar | None:
    """The sidecar at `path`, or None when it is unreadable, corrupt or of another format."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.pop("format") != SIDECAR_FORMAT:
            return None
        return _parse(raw)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _parse(raw: dict[str, Any]) -> Sidecar:
    """A Sidecar from its JSON form; TypeError/ValueError/KeyError when a field is off."""
    plan, padding = raw.pop("plan"), raw.pop("padding")
    sidecar = Sidecar(
        name=str(raw.pop("name")),
        source=str(raw.pop("source")),
        files=tuple(_stamp(f) for f in raw.pop("files")),
        export=_stamp(raw.pop("export")),
        tokenizer=str(raw.pop("tokenizer")),
        versions=tuple((str(k), None if v is None else str(v)) for k, v in raw.pop("versions")),
        plan=Plan(
            pooling="cls" if plan.pop("pooling") == "cls" else "mean",
            normalize=bool(plan.pop("normalize")),
            inputs=tuple(str(i) for i in plan.pop("inputs")),
            max_length=int(plan.pop("max_length")),
        ),
        padding=Padding(**padding),
        dims=int(raw.pop("dims")),
    )
    sides = {sidecar.padding.side, sidecar.padding.truncation_side}
    if raw or plan or not sides <= {"left", "right"}:
        raise ValueError(f"unexpected sidecar fields {sorted({**raw, **plan})} or sides {sides}")
    return sidecar


def _stamp(value: Sequence[Any]) -> FileStamp:
    name, size, mtime = value
    return (str(name), int(size), int(mtime))


def find_sidecar(cache_dir: Path, name: str, source: Path) -> Sidecar | None:
    """The newest sidecar in `cache_dir` for model `name` loaded from `source` that is still
    current: same folder, same files (size and mtime), same export, same package versions."""
    candidates = []
    for path in cache_dir.glob(f"{cache_slug(name)}-*.onnx.json"):
        stamp = file_stamp(path)
        if stamp is not None:
            candidates.append((stamp[2], path))
    if not candidates:
        return None
    folder = source.expanduser().resolve()
    files = folder_stamps(folder)
    versions = package_versions()
    for _, path in sorted(candidates, reverse=True):
        sidecar = read_sidecar(path)
        if (
            sidecar is not None
            and (sidecar.name, sidecar.source) == (name, str(folder))
            and (sidecar.files, sidecar.versions) == (files, versions)
            and file_stamp(path.parent / sidecar.export[0]) == sidecar.export
            and (path.parent / sidecar.tokenizer).is_file()
        ):
            return sidecar
    return None


class PlainTokenizer:
    """The HF tokenizer call of `OnnxQueryEncoder.encode`, from `tokenizers` alone.

        tokenizer = PlainTokenizer(Path("model-key.tokenizer.json").read_text(), 256, padding)
        batch = tokenizer(["a query", "a longer second query"])
        batch["input_ids"].shape == batch["attention_mask"].shape   # padded to the longest

    Truncates longest-first to `max_length` tokens (special tokens included) and pads to the
    longest text in the batch, exactly as `tokenizer(texts, padding=True,
    truncation="longest_first", max_length=max_length)` does with the model's HF tokenizer.
    """

    def __init__(self, tokenizer_json: str, max_length: int, padding: Padding) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(tokenizer_json)
        tokenizer.enable_truncation(
            max_length, stride=0, strategy="longest_first", direction=padding.truncation_side
        )
        tokenizer.enable_padding(
            direction=padding.side,
            pad_id=padding.pad_id,
            pad_type_id=padding.pad_type_id,
            pad_token=padding.pad_token,
        )
        self._tokenizer = tokenizer
        self.json = tokenizer_json
        self.max_length = max_length

    def content_tokens(self) -> int:
        """The most tokens of text one call reads: `max_length` less the special tokens."""
        post = self._tokenizer.post_processor
        special = int(post.num_special_tokens_to_add(False)) if post is not None else 0
        return self.max_length - special

    @classmethod
    def load(cls, sidecar: Sidecar, folder: Path) -> PlainTokenizer:
        """The tokenizer a sidecar in `folder` names; OSError/ValueError if it cannot be read."""
        text = (folder / sidecar.tokenizer).read_text(encoding="utf-8")
        json.loads(text)  # ValueError for a damaged copy, before tokenizers sees it
        return cls(text, sidecar.plan.max_length, sidecar.padding)

    def __call__(self, texts: Sequence[str]) -> dict[str, IntMatrix]:
        encodings = self._tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }


def hf_tokenize(tokenizer: Any, max_length: int) -> Tokenize:
    """A model's HF tokenizer as a `Tokenize`: padded to the longest, truncated to the window."""

    def tokenize(texts: Sequence[str]) -> Mapping[str, IntMatrix]:
        batch = tokenizer(
            list(texts),
            padding=True,
            truncation="longest_first",
            max_length=max_length,
            return_tensors="np",
        )
        return {key: np.asarray(value, dtype=np.int64) for key, value in batch.items()}

    return tokenize


def hf_padding(tokenizer: Any) -> Padding | None:
    """An HF tokenizer's padding and truncation settings; None if it cannot pad."""
    side, truncation = tokenizer.padding_side, tokenizer.truncation_side
    if tokenizer.pad_token is None or {side, truncation} - {"left", "right"}:
        return None
    return Padding(
        side=side,
        pad_id=int(tokenizer.pad_token_id),
        pad_type_id=int(tokenizer.pad_token_type_id),
        pad_token=str(tokenizer.pad_token),
        truncation_side=truncation,
    )


def record_sidecar(
    export: Path, plan: Plan, dims: int, hf_tokenizer: Any, model: tuple[str, Path]
) -> Sidecar | None:
    """Write the sidecar of `export`, an export already checked against torch, for `model`
    (configured name, folder it was loaded from); the sidecar, or None where it is not written.

    Best effort: nothing is written when the plain tokenizer does not give the HF tokenizer's
    ids on `TOKEN_PROBES`, or the cache is read-only; the torch path keeps working either way.
    """
    name, source = model
    padding = hf_padding(hf_tokenizer)
    folder = source.expanduser().resolve()
    files = folder_stamps(folder)
    stamp = file_stamp(export)
    if padding is None or files is None or stamp is None:
        return None
    text = hf_tokenizer.backend_tokenizer.to_str()
    plain = PlainTokenizer(text, plan.max_length, padding)
    theirs = hf_tokenize(hf_tokenizer, plan.max_length)
    for probes in (TOKEN_PROBES, TOKEN_PROBES[:1], TOKEN_PROBES[-2:]):  # padding differs
        ours, expected = plain(probes), theirs(probes)
        if any(not np.array_equal(ours[key], expected[key]) for key in plan.inputs):
            return None
    sidecar = Sidecar(
        name=name,
        source=str(folder),
        files=files,
        export=stamp,
        tokenizer=tokenizer_path(export).name,
        versions=package_versions(),
        plan=plan,
        padding=padding,
        dims=dims,
    )
    try:
        write_atomically(tokenizer_path(export), text)  # first: a sidecar implies its tokenizer
        write_sidecar(sidecar, sidecar_path(export))
    except OSError:
        return None
    return sidecar
