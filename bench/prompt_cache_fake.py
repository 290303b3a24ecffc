"""HTTP fakes of the paid providers' prompt caches, for bench/prompt_cache.py.

    with CacheFake() as fake:         # OpenAI chat completions at fake.url, Anthropic at fake.url
        ...                            # (POST /v1/chat/completions, POST /v1/messages)
        fake.totals["openai"]          # {"calls": n, "prompt": tokens, "cached": tokens, ...}

Both count tokens with tiktoken's o200k_base (each message as "role\\ncontent"), so the
numbers are a close stand-in for the vendors' own, and both apply the caching rules the vendors
document:
- **OpenAI** (automatic): a prompt of 1,024 tokens or more is cached; a later prompt reads the
  longest prefix seen before, in 128-token steps from 1,024 (`usage.prompt_tokens_details.
  cached_tokens`); nothing to mark, nothing extra to pay for a write.
- **Anthropic** (explicit): only the prefixes that end at a `cache_control` breakpoint are
  written, once they reach the model's minimum (2,048 tokens for Haiku models, 1,024 for the
  others); a request reads the longest prefix seen before that ends at any block boundary up to
  its last breakpoint (`cache_read_input_tokens`: the API looks back from a breakpoint), and
  writes the rest up to that breakpoint when it is new (`cache_creation_input_tokens`, billed
  at 1.25x input); `input_tokens` is the rest.
The reply is a fixed short answer; only the usage matters here.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from ragline.llm_router.tokens import get_encoding

REPLY = "The context names it [1]."
OPENAI_MINIMUM, OPENAI_STEP = 1024, 128


class PrefixStore:
    """Prefixes seen so far, as chained SHA-256 digests of token runs (no prompt kept)."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    @staticmethod
    def digests(tokens: Sequence[int], ends: Sequence[int]) -> list[bytes]:
        """The digest of ``tokens[:end]`` for each end, in one pass."""
        out, digest, start = [], b"", 0
        for end in ends:
            chunk = ",".join(map(str, tokens[start:end])).encode()
            digest = hashlib.sha256(digest + chunk).digest()
            out.append(digest)
            start = end
        return out

    def __contains__(self, digest: bytes) -> bool:
        with self._lock:
            return digest in self._seen

    def longest_seen(self, digests: Sequence[bytes]) -> int:
        """How many of `digests` (shortest first) were seen, counting from the first."""
        with self._lock:
            for i, digest in enumerate(digests):
                if digest not in self._seen:
                    return i
            return len(digests)

    def add(self, digests: Sequence[bytes]) -> None:
        with self._lock:
            self._seen.update(digests)


def _tokens(parts: Sequence[tuple[str, str]]) -> tuple[list[int], list[int]]:
    """All tokens of the (role, text) parts, and where each part ends."""
    encoding = get_encoding("o200k_base")
    tokens: list[int] = []
    ends = []
    for role, text in parts:
        tokens += encoding.encode(f"{role}\n{text}", disallowed_special=())
        ends.append(len(tokens))
    return tokens, ends


class CacheFake:
    """OpenAI and Anthropic endpoints on 127.0.0.1 with the vendors' prompt-cache rules."""

    def __init__(self) -> None:
        self.openai_cache, self.anthropic_cache = PrefixStore(), PrefixStore()
        self.totals: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> CacheFake:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget every cached prefix (a fresh provider cache for the next scenario)."""
        self.openai_cache, self.anthropic_cache = PrefixStore(), PrefixStore()

    def count(self, vendor: str, **numbers: int) -> None:
        with self._lock:
            totals = self.totals.setdefault(vendor, {"calls": 0})
            totals["calls"] += 1
            for key, value in numbers.items():
                totals[key] = totals.get(key, 0) + value

    def openai(self, body: dict[str, object]) -> dict[str, object]:
        messages = body["messages"]
        assert isinstance(messages, list)
        tokens, _ = _tokens([(m["role"], str(m["content"])) for m in messages])
        ends = list(range(OPENAI_MINIMUM, len(tokens) + 1, OPENAI_STEP))
        digests = self.openai_cache.digests(tokens, ends)
        hit = self.openai_cache.longest_seen(digests)
        cached = ends[hit - 1] if hit else 0
        self.openai_cache.add(digests)
        out = len(REPLY) // 4
        self.count("openai", prompt=len(tokens), cached=cached, completion=out)
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": REPLY}}],
            "usage": {"prompt_tokens": len(tokens), "completion_tokens": out,
                      "total_tokens": len(tokens) + out,
                      "prompt_tokens_details": {"cached_tokens": cached}},
        }  # fmt: skip

    def anthropic(self, body: dict[str, object]) -> dict[str, object]:
        parts, marks = _anthropic_parts(body)
        tokens, ends = _tokens(parts)
        minimum = 2048 if "haiku" in str(body["model"]) else 1024
        last = marks[-1] if marks else -1
        # reads: any block boundary up to the last breakpoint; writes: the breakpoints only
        bounds = [end for end in ends[: last + 1] if end >= minimum]
        digests = self.anthropic_cache.digests(tokens, bounds)
        seen = [d in self.anthropic_cache for d in digests]
        read = max((end for end, hit in zip(bounds, seen, strict=True) if hit), default=0)
        marked = {ends[i] for i in marks}
        written = [d for end, d in zip(bounds, digests, strict=True) if end in marked]
        write = bounds[-1] - read if bounds and bounds[-1] in marked and not seen[-1] else 0
        self.anthropic_cache.add(written)
        out = len(REPLY) // 4
        fresh = len(tokens) - read - write
        self.count("anthropic", prompt=len(tokens), read=read, write=write, completion=out)
        return {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": fresh, "output_tokens": out,
                      "cache_read_input_tokens": read, "cache_creation_input_tokens": write},
        }  # fmt: skip


def _anthropic_parts(body: dict[str, object]) -> tuple[list[tuple[str, str]], list[int]]:
    """The request's text parts in prompt order, and which of them end at a breakpoint."""
    parts: list[tuple[str, str]] = []
    marks: list[int] = []
    system = body.get("system")
    blocks = system if isinstance(system, list) else [{"text": system}] if system else []
    for block in blocks:
        parts.append(("system", str(block["text"])))
        if "cache_control" in block:
            marks.append(len(parts) - 1)
    messages = body["messages"]
    assert isinstance(messages, list)
    for message in messages:
        content = message["content"]
        for block in content if isinstance(content, list) else [{"text": content}]:
            parts.append((message["role"], str(block.get("text", ""))))
            if "cache_control" in block:
                marks.append(len(parts) - 1)
    return parts, marks


def _handler(fake: CacheFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = fake.anthropic(body) if self.path.endswith("/messages") else fake.openai(body)
            raw = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
