"""The `openai` provider: OpenAI's chat-completions API (or any compatible URL) via the SDK.

    model = OpenAIChatModel(OpenAIConfig())        # gpt-4o-mini, key from OPENAI_API_KEY
    model = resolve("openai:gpt-4o", LlmConfig())
    model.complete(request).usage                  # as OpenAI reported it

The key is read from the env var `api_key_env` when the model is built; a missing key fails
there, naming the variable. The SDK never retries (`max_retries=0`): the router decides.
"""

from __future__ import annotations

import httpx2

from ragline.llm_router.config import OpenAIConfig
from ragline.llm_router.providers.http_errors import Endpoint, require_key
from ragline.llm_router.providers.openai_wire import (
    OpenAIWire,
    WireChatModel,
    guide_for,
    make_client,
)


class OpenAIChatModel(WireChatModel):
    """A `ChatModel` for OpenAI (or an OpenAI-compatible URL that wants a key).

    model = OpenAIChatModel(OpenAIConfig(timeout_s=30), "gpt-4o-mini")
    model.complete(ChatRequest(messages=(Message("user", "Hello"),), max_tokens=64)).text

    `http_client` replaces the SDK's HTTP client (proxies, a test transport).
    """

    def __init__(
        self,
        config: OpenAIConfig | None = None,
        model: str | None = None,
        *,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self._config = config or OpenAIConfig()
        self.provider = "openai"
        self._model_id = model or self._config.model
        self._temperature, self._timeout_s = self._config.temperature, self._config.timeout_s
        key = require_key("openai", self._config.api_key_env, "OpenAI")
        client = make_client(self._config.base_url, key, self._config.timeout_s, http_client)
        url = str(client.base_url).rstrip("/")  # the SDK's default when the config has none
        endpoint = Endpoint("openai", url, self._config.api_key_env, self._config.timeout_s)
        self._wire = OpenAIWire(client, endpoint, guide_for(self._config.structured_output))
