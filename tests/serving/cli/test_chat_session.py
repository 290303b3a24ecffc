"""`ragline chat --session NAME` end to end (in-process CLI, the extractive provider: no model
server): the history goes to the model, the turns are stored under the CLI's owner, and bad
names or an unreachable store exit 2 saying what to fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.core.chat import Message
from ragline.serving.cli.app import app
from ragline.serving.conversations.service import local_owner
from ragline.serving.conversations.sqlite_store import SqliteConversations

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("RAGLINE_LLM__PROVIDER", "extractive")

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, ["chat", *args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def stored(tmp_path: Path, name: str) -> tuple[Message, ...]:
    store = SqliteConversations(tmp_path / ".ragline" / "conversations.db")
    try:
        return store.load(name, local_owner())
    finally:
        store.close()


def test_a_session_sends_its_history_and_keeps_the_turns(run: Invoke, tmp_path: Path) -> None:
    code, first, err = run("Bread rises because yeast makes gas.", "--session", "bake", "--json")
    assert code == 0, err
    assert "session bake: 1 turn stored" in err
    code, second, err = run("Why does it rise?", "--session", "bake", "--json")
    assert code == 0, err
    assert "session bake: 2 turns stored" in err
    one, two = json.loads(first), json.loads(second)
    assert (one["session"], one["turns"], two["turns"]) == ("bake", 1, 2)
    alone = json.loads(run("Why does it rise?", "--json")[1])
    assert two["tokens_in"] > alone["tokens_in"]  # the first turn went to the model too
    held = stored(tmp_path, "bake")
    assert [(m.role, m.content) for m in held] == [
        ("user", "Bread rises because yeast makes gas."),
        ("assistant", one["text"]),
        ("user", "Why does it rise?"),
        ("assistant", two["text"]),
    ]


def test_the_system_prompt_is_kept_until_replaced(run: Invoke, tmp_path: Path) -> None:
    assert run("Hi.", "--session", "s1", "--system", "Be terse.")[0] == 0
    assert run("Hello again.", "--session", "s1")[0] == 0
    assert stored(tmp_path, "s1")[0] == Message("system", "Be terse.")
    assert run("Once more.", "--session", "s1", "--system", "Be kind.")[0] == 0
    held = stored(tmp_path, "s1")
    assert [m.content for m in held if m.role == "system"] == ["Be kind."]


def test_without_a_session_nothing_is_stored(run: Invoke, tmp_path: Path) -> None:
    code, _, err = run("Hello.", "--stream")
    assert code == 0 and "session" not in err
    assert not (tmp_path / ".ragline" / "conversations.db").exists()


def test_a_streamed_answer_is_stored_whole(run: Invoke, tmp_path: Path) -> None:
    code, out, err = run("Hello.", "--session", "s2", "--stream")
    assert code == 0, err
    held = stored(tmp_path, "s2")
    assert held[-1].role == "assistant" and held[-1].content and held[-1].content in out


def test_bad_names_and_a_dead_store_exit_two(run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("Hello.", "--session", "my trip")
    assert code == 2 and "conversation id 'my trip' is not valid" in err
    monkeypatch.setenv("RAGLINE_CONVERSATIONS__BACKEND", "redis")
    code, _, err = run("Hello.", "--session", "s1")
    assert code == 2 and "RAGLINE_CONVERSATIONS__URL" in err
    monkeypatch.setenv("RAGLINE_CONVERSATIONS__URL", "redis://127.0.0.1:1/0")
    code, _, err = run("Hello.", "--session", "s1")
    assert code == 2 and "unreachable" in err and "conversations.url" in err
