"""The root of every error ragline raises on purpose; each package roots its own tree here.

RaglineError
 ├── ragline.rag.errors.RagError            ingest, embedding, store, rerank
 ├── ragline.llm_router.errors.ProviderError  a chat model could not produce a completion
 ├── ragline.mltrack.errors.MltrackError    tracking, data, gates, ledger, request log
 └── ragline.serving.errors.ServingError    settings (ConfigError) and the doors

`except RaglineError` catches what ragline meant to raise and lets bugs through. Every
message says what to change to fix the problem.

`redact(text, secrets)` masks what a message or log line must not carry (URL passwords, API
keys, credentials echoed in an upstream body); every error and log path that formats a URL,
a DSN or someone else's words passes its text through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit


class RaglineError(Exception):
    """Something ragline checked and refused, with a message that says how to fix it."""


MASK = "***"
_TOKEN = r"[A-Za-z0-9._~+/=\-]+"
# scheme://user:PASSWORD@host: the password stops at "/" (a path), so a later "@" in the path
# is not taken for the end of the userinfo; a raw "@" inside the password is masked with it.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"<>]*:)[^\s/'\"<>]+@")
_KEY_SHAPES = (
    (re.compile(r"(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_\-]{6,}"), "sk-ant-" + MASK),
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{6,}"), "sk-" + MASK),
    (re.compile(rf"\bBearer\s+{_TOKEN}", re.IGNORECASE), f"Bearer {MASK}"),
)
# name=value, name: value, "name": "value" (also inside JSON held in a string: \"name\")
_NAMED = re.compile(
    r"(?P<name>\b(?:x-api-key|api[_-]?key|apikey|(?:access|refresh|auth|api)[_-]?token"
    r"|(?:client[_-]?)?secret|password|passwd|authorization)\\?[\"']?\s*[:=]\s*\\?[\"']?"
    r"(?:(?:Bearer|Basic)\s+)?)(?P<value>[^\s\"'\\,;&}]+)",
    re.IGNORECASE,
)
_SHORTEST_SECRET = 4  # shorter "secrets" (a blank, "x") would mask ordinary words


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret it may carry masked: the text of any log line or error message
    that holds a URL, a header or an upstream body.

        redact("redis://:hunter2@cache:6379/0 does not answer")   # redis://:***@cache:6379/0 ...
        redact('{"error": "bad key sk-proj-abc123def"}')            # ... "bad key sk-***"
        redact(body, secrets=[os.environ["VLLM_API_KEY"]])          # a key of any shape

    Masked: URL passwords (any scheme), OpenAI `sk-...` and Anthropic `sk-ant-...` keys,
    `Bearer` tokens (and `Basic` ones after `Authorization:`), the values of `api_key=`,
    `"api_key": "..."`, `x-api-key:`, `password=` and the like, and each string in `secrets`
    (also percent-encoded) of 4 or more characters.
    """
    for secret in sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True):
        text = text.replace(secret, MASK)
        encoded = quote(secret, safe="")
        if encoded != secret:
            text = text.replace(encoded, MASK)
    text = _URL_PASSWORD.sub(rf"\g<head>{MASK}@", text)
    for pattern, replacement in _KEY_SHAPES:
        text = pattern.sub(replacement, text)
    return _NAMED.sub(rf"\g<name>{MASK}", text)


def redact_url(url: str) -> str:
    """`url` with its password masked, for messages that name where something lives.

    redact_url("postgresql://ledger:s3cret@db:5432/costs")   # postgresql://ledger:***@db:5432/costs
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can read: mask what the patterns know
        return redact(url)
    if not password:
        return redact(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return redact(urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}")))
