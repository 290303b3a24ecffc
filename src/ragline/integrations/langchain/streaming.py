"""A router stream run on a worker thread inside a ragline cost scope of its own.

    for piece, cost_usd in scoped_stream(lambda rid: router.stream(request, request_id=rid)):
        print(piece.text, end="")            # cost_usd: what the request has cost so far

A cost scope is a context variable: held open across the `yield`s of a generator, it would
be reset in whatever context LangChain resumes the generator in (its runnables resume them
under `Context.run`, which fails). On a thread of its own the scope opens and closes in one
context, and the chunks cross over a queue as they are generated.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ragline.core.chat import StreamChunk
from ragline.core.costs import CostScope, cost_scope

_END = object()


@dataclass(frozen=True, slots=True)
class _Piece:
    chunk: StreamChunk
    scope: CostScope  # read when the chunk is consumed: its cost includes the chunk's event


_POLL_S = 0.1


def scoped_stream(
    start: Callable[[str], Iterator[StreamChunk]], key: str | None = None
) -> Iterator[tuple[StreamChunk, float]]:
    """The chunks of `start(request_id)` with the request's cost so far (USD, the ledger's
    sum); its errors are raised here. Closing this generator early stops the stream."""
    out: queue.Queue[object] = queue.Queue()
    stopped = threading.Event()

    def work() -> None:
        try:
            with cost_scope(key=key) as scope:
                pieces = start(scope.request_id)
                try:
                    for piece in pieces:
                        out.put(_Piece(piece, scope))
                        if stopped.is_set():
                            break
                finally:
                    close = getattr(pieces, "close", None)
                    if callable(close):
                        close()
        except Exception as exc:  # noqa: BLE001 - raised again in the consumer below
            out.put(exc)
        finally:
            out.put(_END)

    worker = threading.Thread(target=work, name="ragline-langchain-stream", daemon=True)
    worker.start()
    try:
        while (item := _next(out, worker)) is not _END:
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, _Piece)
            yield item.chunk, float(item.scope.total_usd())
    finally:
        stopped.set()


def _next(out: queue.Queue[object], worker: threading.Thread) -> object:
    while True:
        try:
            return out.get(timeout=_POLL_S)
        except queue.Empty:
            if not worker.is_alive() and out.empty():
                return _END
