"""`ragline.core.errors.redact`: URL passwords, key shapes, named values and given secrets are
masked; the rest of the message (hosts, ports, what to fix) stays readable."""

from __future__ import annotations

import json

import pytest

from ragline.core.errors import MASK, redact, redact_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "llm.state is 'redis' but redis://:hunter2@127.0.0.1:1/0 does not answer",
            "llm.state is 'redis' but redis://:***@127.0.0.1:1/0 does not answer",
        ),
        (
            "cannot write at postgresql+psycopg://ledger:s3cr@t@db:5432/costs (refused)",
            "cannot write at postgresql+psycopg://ledger:***@db:5432/costs (refused)",
        ),
        ("see https://bob:pw123@example.com/a@b", "see https://bob:***@example.com/a@b"),
        ("amqp://guest:guest@rabbit//", "amqp://guest:***@rabbit//"),
        (
            "Incorrect API key provided: sk-proj-AbC123xyz_987.",
            "Incorrect API key provided: sk-***.",
        ),
        ("x sk-ant-api03-AbCdEf123456 y", "x sk-ant-*** y"),
        ("Authorization: Bearer abc.def-ghi/jk==", "Authorization: Bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
        ("x-api-key: k-12345", "x-api-key: ***"),
        ("?api_key=abcd1234&model=m", "?api_key=***&model=m"),
        ("dsn: host=db password=hunter2 port=5432", "dsn: host=db password=*** port=5432"),
    ],
)
def test_masks_what_a_message_must_not_carry(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://postgres@127.0.0.1:5432/test is up",  # a user without a password
        "http://127.0.0.1:8000/v1 did not answer within 60 s; raise llm.vllm.timeout_s",
        "scikit-learn sk-learn max_tokens=16 tokens: 5",
        "Basic authentication failed; set OPENAI_API_KEY to a valid key",
        "",
    ],
)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_a_json_body_keeps_its_shape_and_loses_its_secrets() -> None:
    body = json.dumps(
        {
            "error": {"message": "bad key sk-test-0123456789", "api_key": "k-zzzz"},
            "headers": {"Authorization": "Bearer tok-1234", "x-api-key": "xk-5678"},
        }
    )
    masked = redact(body)
    assert json.loads(masked) == {
        "error": {"message": "bad key sk-***", "api_key": MASK},
        "headers": {"Authorization": "Bearer ***", "x-api-key": MASK},
    }
    # the same body quoted inside a JSON log line
    line = redact(json.dumps({"message": body}))
    assert json.loads(json.loads(line)["message"]) == json.loads(masked)


def test_given_secrets_of_any_shape_are_masked_also_percent_encoded() -> None:
    key = "vllm key/with+odd=chars"
    text = f"upstream said: {key}; url-encoded: {'vllm%20key%2Fwith%2Bodd%3Dchars'}"
    assert redact(text, [key]) == f"upstream said: {MASK}; url-encoded: {MASK}"
    assert key not in redact(text, [key])


def test_blank_and_tiny_secrets_mask_nothing() -> None:
    # an unset key ("") or a placeholder like "x" would otherwise mask every "x" in the text
    assert redact("max x 12", ["", "x", "12"]) == "max x 12"


def test_a_longer_secret_wins_over_one_it_contains() -> None:
    assert redact("key=abcd-efgh!", ["abcd", "abcd-efgh"]) == f"key={MASK}!"
    assert redact("token abcd-efgh here", ["abcd", "abcd-efgh"]) == f"token {MASK} here"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://u:p%40ss@db/x", "postgresql://u:***@db/x"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
        ("http://localhost:6333", "http://localhost:6333"),
        (":memory:", ":memory:"),
    ],
)
def test_redact_url_masks_only_the_password(url: str, expected: str) -> None:
    assert redact_url(url) == expected
