"""Document embeddings on torch in length-sorted batches, tokenized ahead of the device.

    encoder = DocumentEncoder(model, DevicePlan("cuda", "fp16", 256, tokenizer_threads=4))
    vectors = encoder.encode(passages)      # float32 (n, dim), rows in the order given

What it does beyond `SentenceTransformer.encode` (which sorts by characters, tokenizes on the
calling thread and copies every batch back to the host):
- passages are sorted longest first by characters, then, window by window, by their real token
  count, so a batch pads to the length of its own passages only;
- each window is tokenized once by the model's own `preprocess` (the exact tokens `encode` would
  feed), and each batch is cut from it and trimmed to its longest passage (right padding);
- with `tokenizer_threads` > 0, worker threads prepare the next windows while the device runs
  this one (the Rust tokenizer releases the GIL, so threads tokenize in parallel);
- outputs stay on the device until the end: one copy to the host, no sync per batch.
The model runs in whatever precision it was loaded in (fp16 weights: `model.half()`); rows come
back as float32, exactly what the model's pipeline gives (normalisation is the caller's).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from itertools import islice
from typing import Any

import numpy as np

from ragline.core.types import FloatMatrix
from ragline.rag.embed.device import DevicePlan

# Batches per tokenized window: big enough that sorting inside it leaves little padding (the
# passages arrive roughly sorted already), small enough that the first window is quick.
WINDOW_BATCHES = 4

Batch = tuple[list[int], dict[str, Any]]  # (input positions, the model's features)


class DocumentEncoder:
    """A SentenceTransformer's document embeddings under a `DevicePlan` (see the module doc).

    encoder = DocumentEncoder(model, plan)
    encoder.encode(["a chunk", "another chunk"]).shape    # (2, 384)
    """

    def __init__(self, model: Any, plan: DevicePlan) -> None:
        self.model = model
        self.plan = plan

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        """The pipeline's `sentence_embedding` for each text, float32, in input order."""
        import torch

        if not texts:
            return np.zeros((0, _dims(self.model)), dtype=np.float32)
        self.model.eval()
        positions: list[int] = []
        outputs: list[Any] = []
        with torch.inference_mode():
            for index, features in self._batches(texts):
                moved = {
                    k: v.to(self.plan.device, non_blocking=True) if torch.is_tensor(v) else v
                    for k, v in features.items()
                }
                outputs.append(self.model(moved)["sentence_embedding"])
                positions.extend(index)
            stacked = torch.cat(outputs).float().cpu().numpy()
        out = np.empty_like(stacked)
        out[np.asarray(positions)] = stacked
        return np.ascontiguousarray(out, dtype=np.float32)

    def _batches(self, texts: Sequence[str]) -> Iterator[Batch]:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        size = self.plan.batch_size
        step = size * WINDOW_BATCHES
        windows = [order[start : start + step] for start in range(0, len(order), step)]
        pin = self.plan.device.startswith("cuda")  # page-locked: the copy to the GPU is async
        prepare = partial(_prepare, self.model, texts, size=size, pin=pin)
        threads = self.plan.tokenizer_threads
        if threads == 0:
            return (batch for window in windows for batch in prepare(window))
        # The tokenizer sets its padding and truncation on first use; concurrent first uses
        # would race on that state, so one short call settles it before the workers start.
        self.model.preprocess([texts[order[-1]]])
        return _ahead(windows, prepare, threads)


def _prepare(
    model: Any, texts: Sequence[str], chunk: list[int], size: int, pin: bool
) -> list[Batch]:
    """The batches of one window: tokenized once, sorted by token count, cut and trimmed."""
    import torch

    features = model.preprocess([texts[i] for i in chunk])
    mask = features.get("attention_mask")
    right = getattr(model.tokenizer, "padding_side", "right") == "right"
    batches: list[Batch] = []
    if not right or not torch.is_tensor(mask) or mask.ndim != 2:
        for part in range(0, len(chunk), size):  # unknown layout: plain per-batch calls
            index = chunk[part : part + size]
            batches.append((index, model.preprocess([texts[i] for i in index])))
    else:
        lengths = mask.sum(dim=1)
        local = torch.argsort(-lengths, stable=True)
        for part in range(0, len(chunk), size):
            rows = local[part : part + size]
            width = int(lengths[rows].max())
            picked = _select(features, rows, width, len(chunk))
            batches.append(([chunk[int(r)] for r in rows], picked))
    if pin:
        batches = [(index, _pinned(features)) for index, features in batches]
    return batches


def _select(features: dict[str, Any], rows: Any, width: int, count: int) -> dict[str, Any]:
    """Rows `rows` of each per-text tensor, token axes trimmed to `width`; others as they are."""
    import torch

    out: dict[str, Any] = {}
    for key, value in features.items():
        if torch.is_tensor(value) and value.ndim >= 1 and value.shape[0] == count:
            picked = value[rows]
            out[key] = picked[:, :width].contiguous() if picked.ndim == 2 else picked
        else:
            out[key] = value
    return out


def _pinned(features: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {k: v.pin_memory() if torch.is_tensor(v) else v for k, v in features.items()}


def _ahead(
    windows: Sequence[list[int]], prepare: Callable[[list[int]], list[Batch]], threads: int
) -> Generator[Batch, None, None]:
    """The batches of `windows` in order, prepared by `threads` workers up to `threads + 1`
    windows ahead of the consumer. A worker's error is raised here; a consumer that stops early
    cancels what has not started."""
    with ThreadPoolExecutor(threads, thread_name_prefix="ragline-tokenize") as pool:
        rest = iter(windows)
        pending: deque[Future[list[Batch]]] = deque(
            pool.submit(prepare, window) for window in islice(rest, threads + 1)
        )
        try:
            while pending:
                done = pending.popleft().result()
                following = next(rest, None)
                if following is not None:
                    pending.append(pool.submit(prepare, following))
                yield from done
        finally:
            for future in pending:
                future.cancel()


def _dims(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None)  # newer name, same meaning
    return int(getter() if getter else model.get_sentence_embedding_dimension())
