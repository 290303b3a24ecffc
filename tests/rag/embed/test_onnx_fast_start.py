"""The torch-free start of query embedding: a checked export's sidecar, read back without torch.

The session's `embedder` fixture loads torch and exports into its own temp cache, which writes
the sidecar these tests read; tests that damage a sidecar work on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.core.types import FloatMatrix
from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed import onnx_query
from ragline.rag.embed.onnx_query import OnnxQueryEncoder
from ragline.rag.embed.onnx_sidecar import (
    PlainTokenizer,
    Plan,
    Sidecar,
    cache_slug,
    find_sidecar,
    folder_stamps,
    hf_tokenize,
    package_versions,
    read_sidecar,
    write_sidecar,
)
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder, resolve_model

pytestmark = pytest.mark.integration

NAME = "all-MiniLM-L6-v2"
LONG = " ".join(f"token{i} overflows the window" for i in range(120))  # > 256 word-pieces
VARIED = [
    "How do I parse a JSON string into a Python object?",
    "harmonic mean",
    "  list   directory contents  ",
    LONG,
    "Ünïcödé façade — 日本語のクエリ 🚀",
    "x",
    "tab\tseparated\nand a newline",
    "résumé of the naïve café owner's ﬁrst ﬂight",
]
HEAVY = ("torch", "transformers", "sentence_transformers")


def mixed(n: int) -> list[str]:
    """`n` distinct queries of very different lengths, long and short interleaved."""
    return [f"{VARIED[i % len(VARIED)]} {i // len(VARIED) or ''}".strip() for i in range(n)]


def cosines(a: FloatMatrix, b: FloatMatrix) -> FloatMatrix:
    dots = (a * b).sum(axis=1)
    norms: FloatMatrix = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.asarray(dots / norms, dtype=np.float32)


@pytest.fixture(scope="module")
def cache(embedder: SentenceTransformerEmbedder) -> Path:
    """The session embedder's ONNX cache, holding its export and (now) its sidecar."""
    assert embedder.config.onnx_cache is not None
    return embedder.config.onnx_cache


@pytest.fixture(scope="module")
def packaged() -> Path:
    return Path(resolve_model(NAME)).resolve()


@pytest.fixture
def fresh(cache: Path) -> Callable[..., SentenceTransformerEmbedder]:
    """A new embedder over the session's cache: nothing loaded."""

    def make(**config: Any) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(EmbeddingConfig(onnx_cache=cache, **config))

    return make


def on_torch(embedder: SentenceTransformerEmbedder, **config: Any) -> SentenceTransformerEmbedder:
    """An embedder that queries on the session's loaded torch model."""
    plain = SentenceTransformerEmbedder(EmbeddingConfig(query_backend="torch", **config))
    plain._model = embedder.model
    return plain


def test_a_checked_export_gets_a_sidecar(
    embedder: SentenceTransformerEmbedder, cache: Path, packaged: Path
) -> None:
    assert embedder._onnx is not None and embedder.query_backend == "onnx"
    found = find_sidecar(cache, NAME, packaged)
    assert found is not None
    assert (found.name, found.source, found.dims) == (NAME, str(packaged), 384)
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    assert found.plan == Plan("mean", True, inputs, 256)
    assert found.export[0] == embedder._onnx.path.name
    assert found.versions == package_versions() and dict(found.versions)["torch"]
    assert "model.safetensors" in {name for name, _, _ in found.files}
    assert "1_Pooling/config.json" in {name for name, _, _ in found.files}
    names = sorted(p.name for p in cache.iterdir())
    stem = embedder._onnx.path.stem
    assert names == [f"{stem}.onnx", f"{stem}.onnx.json", f"{stem}.tokenizer.json"]


@pytest.mark.parametrize(
    ("config", "n"),
    [({}, 1), ({}, 8), ({}, 100), ({"query_prefix": "query: ", "truncate_dim": 64}, 100)],
    ids=["1", "8", "100", "100-prefix-truncate"],
)
def test_fast_vectors_match_torch(
    embedder: SentenceTransformerEmbedder,
    fresh: Callable[..., SentenceTransformerEmbedder],
    config: dict[str, Any],
    n: int,
) -> None:
    queries = mixed(n)
    expected = on_torch(embedder, **config).embed(queries, kind="query")
    fast = fresh(**config)
    got = fast.embed(queries, kind="query")
    assert fast._model is None and fast.query_backend == "onnx (no torch)"
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert cosines(got, expected).min() >= 0.9999  # row by row: the order is the one given
    assert np.allclose(np.linalg.norm(got, axis=1), np.linalg.norm(expected, axis=1), rtol=1e-4)
    for i in {0, n // 2, n - 1}:
        alone = fast.embed([queries[i]], kind="query")[0]
        assert np.allclose(got[i], alone, atol=1e-5)


def test_the_plain_tokenizer_gives_the_hf_ids(
    embedder: SentenceTransformerEmbedder, cache: Path, packaged: Path
) -> None:
    found = find_sidecar(cache, NAME, packaged)
    assert found is not None
    plain = PlainTokenizer.load(found, cache)
    hf = hf_tokenize(embedder.model.tokenizer, 256)
    for batch in (mixed(1), mixed(8), mixed(100), [LONG], ["x", LONG], ["x"] * 3):
        ours, theirs = plain(batch), hf(batch)
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            assert ours[key].dtype == np.int64
            assert np.array_equal(ours[key], theirs[key]), (key, batch[:2])
    ids = plain([LONG])["input_ids"]
    assert ids.shape == (1, 256) and ids[0, -1] == embedder.model.tokenizer.sep_token_id


_NO_TORCH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from ragline.rag.config import EmbeddingConfig
    from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder

    def heavy():
        return sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))

    embedder = SentenceTransformerEmbedder(EmbeddingConfig(onnx_cache=Path(sys.argv[1])))
    seen = {"dims": embedder.dims}
    embedder.warm_up()
    seen["small"] = embedder.embed(["a query"], kind="query").shape
    seen["big"] = embedder.embed([f"query {i}" for i in range(40)], kind="query").shape
    seen["backend"], seen["heavy"] = embedder.query_backend, heavy()
    seen["loaded"] = embedder.load_seconds > 0
    embedder.embed(["a document"], kind="document")  # documents: on ONNX too, no torch
    seen["after_document"] = [embedder.query_backend, heavy()]
    torch_docs = EmbeddingConfig(onnx_cache=Path(sys.argv[1]), document_backend="torch")
    SentenceTransformerEmbedder(torch_docs).embed(["a document"], kind="document")
    seen["after_torch_document"] = heavy()
    print(json.dumps(seen))
    """
)


def test_the_fast_path_imports_no_torch(cache: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH_SCRIPT, str(cache), *HEAVY],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["heavy"] == [], "the fast path imported a torch package"
    assert seen["backend"] == "onnx (no torch)" and seen["loaded"]
    assert (seen["dims"], seen["small"], seen["big"]) == (384, [1, 384], [40, 384])
    assert seen["after_document"] == ["onnx (no torch)", []]
    assert seen["after_torch_document"] == sorted(HEAVY)  # the check can see torch


def test_dims_and_backend_need_no_torch(
    embedder: SentenceTransformerEmbedder, fresh: Callable[..., SentenceTransformerEmbedder]
) -> None:
    fast = fresh()
    assert fast.query_backend == "torch"  # nothing tried yet
    assert fast.dims == 384
    assert fast._model is None and fast.query_backend == "onnx (no torch)"
    fast.warm_up()
    assert fast._model is None and fast.load_seconds > 0
    fast._model = embedder.model  # as if documents had loaded torch
    assert fast.query_backend == "onnx" and fast.dims == 384
    truncated = fresh(truncate_dim=64)
    assert truncated.dims == 64 and truncated._onnx is None and truncated._model is None


def test_a_torch_config_or_device_never_reads_the_sidecar(
    embedder: SentenceTransformerEmbedder,
    fresh: Callable[..., SentenceTransformerEmbedder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []
    monkeypatch.setattr(onnx_query, "find_sidecar", lambda *args: reads.append("read"))
    plain = fresh(query_backend="torch", document_backend="torch")
    plain._model = embedder.model
    assert plain.embed(["a query"], kind="query").shape == (1, 384)
    assert plain.query_backend == "torch" and plain._onnx is None
    gpu = fresh(device="cuda")
    assert gpu._fast_encoder() is None and gpu._model is None
    assert reads == []


@pytest.fixture
def moved(cache: Path, packaged: Path, tmp_path: Path) -> tuple[str, Path, Path]:
    """(name, model folder, cache): a copy of the packaged model and of the session's cache,
    with the sidecar rewritten for the copy, so tests may damage either."""
    folder = tmp_path / "model"
    shutil.copytree(packaged, folder)  # copy2: sizes and mtimes kept
    copied = tmp_path / "cache"
    shutil.copytree(cache, copied)
    name = str(folder)
    original = find_sidecar(cache, NAME, packaged)
    assert original is not None
    stamps = folder_stamps(folder)
    assert stamps is not None
    relocated = replace(original, name=name, source=str(folder.resolve()), files=stamps)
    for path in copied.glob("*.onnx.json"):
        path.unlink()
    write_sidecar(relocated, copied / f"{cache_slug(name)}-moved.onnx.json")
    assert OnnxQueryEncoder.from_sidecar(name, folder, copied) is not None
    return name, folder, copied


def _sidecar_file(cache: Path) -> Path:
    (path,) = cache.glob("*.onnx.json")
    return path


def _edit(cache: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = _sidecar_file(cache)
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def _export(cache: Path) -> Path:
    (path,) = cache.glob("*.onnx")
    return path


def _garble_keeping_stamp(path: Path) -> None:
    stat = path.stat()
    path.write_bytes(b"\0" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _touch(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


DAMAGE: dict[str, Callable[[Path, Path], object]] = {
    "weights touched": lambda folder, cache: _touch(folder / "model.safetensors"),
    "pooling edited": lambda folder, cache: _touch(folder / "1_Pooling" / "config.json"),
    "model file added": lambda folder, cache: (folder / "extra.bin").write_bytes(b"1"),
    "sidecar garbage": lambda folder, cache: _sidecar_file(cache).write_bytes(b"\x00{not json"),
    "sidecar truncated": lambda folder, cache: _sidecar_file(cache).write_text(
        _sidecar_file(cache).read_text()[:200]
    ),
    "sidecar field missing": lambda folder, cache: _edit(cache, lambda raw: raw.pop("dims")),
    "another format": lambda folder, cache: _edit(cache, lambda raw: raw.update(format=99)),
    "torch upgraded": lambda folder, cache: _edit(
        cache, lambda raw: raw.update(versions=[["torch", "0.0.1"]])
    ),
    "export gone": lambda folder, cache: _export(cache).unlink(),
    "export touched": lambda folder, cache: _touch(_export(cache)),
    "export garbage, same stamp": lambda folder, cache: _garble_keeping_stamp(_export(cache)),
    "tokenizer gone": lambda folder, cache: next(cache.glob("*.tokenizer.json")).unlink(),
    "tokenizer not json": lambda folder, cache: next(cache.glob("*.tokenizer.json")).write_text(
        "{half"
    ),
    "tokenizer not a tokenizer": lambda folder, cache: next(
        cache.glob("*.tokenizer.json")
    ).write_text("{}"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_stale_or_damaged_sidecar_is_not_used(moved: tuple[str, Path, Path], damage: str) -> None:
    name, folder, cache = moved
    DAMAGE[damage](folder, cache)
    assert OnnxQueryEncoder.from_sidecar(name, folder, cache) is None


def test_a_sidecar_serves_only_its_own_model_and_folder(
    moved: tuple[str, Path, Path], packaged: Path
) -> None:
    name, folder, cache = moved
    assert OnnxQueryEncoder.from_sidecar(name, packaged, cache) is None  # another folder
    assert OnnxQueryEncoder.from_sidecar(NAME, folder, cache) is None  # another name
    assert OnnxQueryEncoder.from_sidecar(name, folder, cache / "elsewhere") is None


def test_a_stale_sidecar_falls_back_to_torch_and_is_rewritten(
    moved: tuple[str, Path, Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, folder, copied = moved
    _touch(folder / "model.safetensors")
    exports: list[Path] = []

    def export(model: Any, plan: Plan, path: Path) -> None:  # the same weights: copy, not trace
        exports.append(path)
        shutil.copyfile(_export(cache), path)

    monkeypatch.setattr(onnx_query, "_export", export)
    stale = SentenceTransformerEmbedder(EmbeddingConfig(model=name, onnx_cache=copied))
    vector = stale.embed(["a query after the model changed"], kind="query")
    assert stale._model is not None and stale.query_backend == "onnx"
    assert stale.onnx_unavailable is None and len(exports) == 1  # new weights key: new export
    rewritten: Sidecar | None = read_sidecar(exports[0].with_name(exports[0].name + ".json"))
    assert rewritten is not None and rewritten.files == folder_stamps(folder)
    again = SentenceTransformerEmbedder(EmbeddingConfig(model=name, onnx_cache=copied))
    assert np.allclose(again.embed(["a query after the model changed"], kind="query"), vector)
    assert again.query_backend == "onnx (no torch)" and again._model is None
