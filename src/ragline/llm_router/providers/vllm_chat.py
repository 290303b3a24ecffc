"""The `vllm` provider: a vLLM server (or any OpenAI-compatible one) on the OpenAI wire format.

    model = VllmChatModel(VllmConfig(base_url="http://gpu-box:8000/v1"))   # first served model
    model = resolve("vllm:my-lora-adapter", LlmConfig())                   # a LoRA adapter by name
    model.complete(ChatRequest(messages=..., json_schema=schema))         # guided decoding

LoRA adapters served with `--lora-modules name=path` are model ids like any other, so
"vllm:<adapter>" selects one. `json_schema` and `regex` become vLLM's `guided_json` and
`guided_regex` body fields (`structured_output: json_object` sends a schema the way llama.cpp's
server takes it). The key is optional: vLLM checks one only when started with
`--api-key`. With no model configured, the first id of GET /v1/models is used (asked once).
"""

from __future__ import annotations

import os
import threading

import httpx2

from ragline.llm_router.config import VllmConfig
from ragline.llm_router.errors import Unavailable
from ragline.llm_router.providers.http_errors import Endpoint
from ragline.llm_router.providers.openai_wire import (
    OpenAIWire,
    WireChatModel,
    guide_for,
    make_client,
)

NO_KEY = "EMPTY"  # what vLLM's docs pass when the server checks no key


class VllmChatModel(WireChatModel):
    """A `ChatModel` for a vLLM server; base models and LoRA adapters by id.

    model = VllmChatModel(VllmConfig(base_url="http://127.0.0.1:8000/v1"), "my-lora-adapter")
    model.name                                    # "vllm:my-lora-adapter"

    Constructing it does no I/O; with no model given, the first request (or `name`) asks the
    server which model it serves.
    """

    def __init__(
        self,
        config: VllmConfig | None = None,
        model: str | None = None,
        *,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self._config = config or VllmConfig()
        key = os.environ.get(self._config.api_key_env, "").strip() or NO_KEY
        client = make_client(self._config.base_url, key, self._config.timeout_s, http_client)
        endpoint = Endpoint(
            "vllm", self._config.base_url, self._config.api_key_env, self._config.timeout_s
        )
        self._wire = OpenAIWire(client, endpoint, guide_for(self._config.structured_output))
        self.provider = "vllm"
        self._model_id = model or self._config.model
        self._temperature, self._timeout_s = self._config.temperature, self._config.timeout_s
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The model id requests name; found on the server (once) when none was configured."""
        if self._model_id is None:
            with self._lock:
                if self._model_id is None:
                    self._model_id = self._discover()
        return self._model_id

    def _discover(self) -> str:
        ids = self._wire.model_ids()
        if not ids:
            raise Unavailable(
                f"vllm at {self._config.base_url} lists no models; start it with a model, "
                "or name one: 'vllm:<model>' / llm.vllm.model"
            )
        return ids[0]
