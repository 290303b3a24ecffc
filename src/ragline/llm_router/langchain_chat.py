"""The router as a LangChain chat model, for libraries that take one (ragas' judge).

    llm = RouterChatModel(router=router)                 # temperature 0, max_tokens 1024
    llm.invoke([SystemMessage("Be brief."), HumanMessage("Say hello.")]).content
    llm.usage()                                          # RouterChatUsage(calls=1, ...)

Every call goes through `Router.complete`, so it is cached, retried, budgeted and costed like any
other; temperature 0 (the default) keeps requests byte-identical across reruns, so the router's
exact cache answers them for free. Router errors propagate unchanged: the caller (ragas) decides
what a failed call means. The async path runs the synchronous router call on a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ChatMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from ragline.core.chat import ChatRequest, Completion, Message, Role
from ragline.llm_router.router import Router

# LangChain's message types ("system", "human", "ai") and ChatMessage roles -> ours.
_ROLES: dict[str, Role] = {
    "system": "system",
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
}


@dataclass(frozen=True, slots=True)
class RouterChatUsage:
    """What a `RouterChatModel` has used since it was made (successful calls only).

    RouterChatUsage(calls=3, tokens_in=900, tokens_out=120, cost_usd=0.0002, cache_hits=1)
    """

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0  # calls an exact or semantic cache answered (cost 0)


class RouterChatModel(BaseChatModel):
    """A LangChain `BaseChatModel` over a ragline `Router`.

        llm = RouterChatModel(router=router, max_tokens=512, key="eval-judge")
        result = await llm.agenerate([[HumanMessage("Grade this.")]])
        result.llm_output["token_usage"], llm.usage().cost_usd

    System, human and AI messages map to our system, user and assistant roles; anything else
    (tool messages, unknown roles) is refused with a ValueError. `temperature` and `max_tokens`
    may also be given per call as keyword arguments.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    router: Router = Field(exclude=True)
    temperature: float = Field(0.0, ge=0, le=2, description="0: reproducible, cacheable")
    max_tokens: int = Field(1024, gt=0, description="reply budget of each call")
    key: str = Field("eval-judge", description="budget and rate-limit key of every call")

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _usage: RouterChatUsage = PrivateAttr(default_factory=RouterChatUsage)

    @property
    def _llm_type(self) -> str:
        return "ragline-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "router": self.router.name,
            "model_name": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    @property
    def model_name(self) -> str:
        """The deployment the router tries first for `key`, e.g. "openai:gpt-4o-mini"."""
        return self.router.deployments(self.key)[0].model

    def usage(self) -> RouterChatUsage:
        """Running totals since this model was made (a consistent snapshot)."""
        with self._lock:
            return self._usage

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        completion = self.router.complete(request, key=self.key)
        self._count(completion)
        return _result(completion)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # The router is synchronous and thread-safe: run it off the event loop.
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatRequest:
        temperature = kwargs.pop("temperature", self.temperature)
        max_tokens = kwargs.pop("max_tokens", self.max_tokens)
        if kwargs:
            raise TypeError(
                f"RouterChatModel does not take {', '.join(sorted(kwargs))}; "
                "it accepts temperature and max_tokens per call"
            )
        return ChatRequest(
            messages=tuple(to_message(m) for m in messages),
            max_tokens=max_tokens,
            temperature=temperature,
            stop=tuple(stop or ()),
        )

    def _count(self, completion: Completion) -> None:
        with self._lock:
            u = self._usage
            self._usage = RouterChatUsage(
                calls=u.calls + 1,
                tokens_in=u.tokens_in + completion.usage.tokens_in,
                tokens_out=u.tokens_out + completion.usage.tokens_out,
                cost_usd=u.cost_usd + completion.cost_usd,
                cache_hits=u.cache_hits + (completion.cache is not None),
            )


def to_message(message: BaseMessage) -> Message:
    """Our `Message` for a LangChain message; its text blocks are joined, other blocks dropped.

    to_message(HumanMessage("Hi")) == Message("user", "Hi")
    """
    kind = message.role if isinstance(message, ChatMessage) else message.type
    role = _ROLES.get(kind)
    if role is None:
        raise ValueError(
            f"RouterChatModel cannot send a {type(message).__name__} (type {kind!r}); "
            "use system, human or AI messages"
        )
    return Message(role, message.text)


def _result(completion: Completion) -> ChatResult:
    """The LangChain result: text, usage metadata, and our cost and cache in the infos."""
    usage = completion.usage
    info: dict[str, Any] = {
        "finish_reason": completion.finish_reason,
        "model_name": completion.model,
        "cost_usd": completion.cost_usd,
        "cache": completion.cache,
    }
    token_usage = {
        "prompt_tokens": usage.tokens_in,
        "completion_tokens": usage.tokens_out,
        "total_tokens": usage.total,
    }
    message = AIMessage(
        content=completion.text,
        response_metadata=dict(info),
        usage_metadata=UsageMetadata(
            input_tokens=usage.tokens_in, output_tokens=usage.tokens_out, total_tokens=usage.total
        ),
    )
    return ChatResult(
        generations=[ChatGeneration(message=message, generation_info=dict(info))],
        llm_output={"token_usage": token_usage, **info},
    )
