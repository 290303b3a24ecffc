"""What a conversation holds after a write (instructions replaced, caps applied), the JSON it
is stored as, and the request-side service: ids from the body or the header, history in front
of the new messages, the turn remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.core.chat import Completion, Message, ToolCall, Usage
from ragline.serving.conversations.history import (
    Limits,
    appended,
    combined,
    decode,
    encode,
    turn_count,
)
from ragline.serving.conversations.protocol import (
    ConversationUnreadable,
    InvalidConversationId,
    check_id,
    check_owner,
)
from ragline.serving.conversations.service import (
    Session,
    answer_message,
    conversation_id,
    local_owner,
    remember,
    with_history,
)
from ragline.serving.conversations.sqlite_store import SqliteConversations
from ragline.serving.conversations.testing import EXCHANGE, ROOMY, turn

pytestmark = pytest.mark.unit
RULES_A, RULES_B = Message("system", "Be terse."), Message("developer", "Be kind.")


def test_new_instructions_replace_the_stored_ones_and_come_first() -> None:
    stored = (RULES_A, *turn(1))
    assert combined(stored, turn(2)) == (RULES_A, *turn(1), *turn(2))
    assert combined(stored, (turn(2)[0], RULES_B)) == (RULES_B, *turn(1), turn(2)[0])
    assert combined((), (RULES_A, RULES_B, turn(1)[0])) == (RULES_A, RULES_B, turn(1)[0])


def test_appended_applies_the_caps_and_refuses_nothing_to_add() -> None:
    limits = Limits(ttl_s=60.0, max_messages=3, max_tokens=None)
    assert appended((RULES_A, *turn(1)), turn(2), limits) == (RULES_A, *turn(2))
    with pytest.raises(ValueError, match="nothing to append"):
        appended(turn(1), (), limits)
    with pytest.raises(ValueError, match="ttl_s"):
        Limits(ttl_s=0)


def test_messages_survive_the_json_they_are_stored_as() -> None:
    assert decode(encode(EXCHANGE), "c1") == EXCHANGE
    assert decode(encode(EXCHANGE).encode(), "c1") == EXCHANGE
    with pytest.raises(ConversationUnreadable, match="'c1' cannot be read"):
        decode("{not json", "c1")


def test_turns_are_counted_from_user_messages() -> None:
    assert turn_count(EXCHANGE) == 1
    assert turn_count((RULES_A, *turn(1), *turn(2), turn(3)[0])) == 3
    assert turn_count(()) == 0


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "blank"),
        ("  ", "blank"),
        ("x" * 129, "at most 128"),
        ("my trip", "letters, digits"),
        ("_x", "starting with a letter or digit"),
    ],
)
def test_bad_ids_say_what_an_id_may_be(value: str, says: str) -> None:
    with pytest.raises(InvalidConversationId, match=says):
        check_id(value)


def test_good_ids_and_owners_pass() -> None:
    for good in ("a", "0f8fad5b-d9cb-469f-a165-70867728950e", "conv_42", "team:2024.06", "x" * 128):
        assert check_id(good) == good
    assert check_owner("cli:ann") == "cli:ann"
    for bad in ("", "two words", "x" * 201, "tab\there"):
        with pytest.raises(ValueError, match="owner"):
            check_owner(bad)


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [(None, None, None), ("c1", None, "c1"), (None, "c1", "c1"), ("c1", "c1", "c1")],
)
def test_the_id_comes_from_the_field_or_the_header(
    body: str | None, header: str | None, expected: str | None
) -> None:
    assert conversation_id(body, header) == expected


def test_field_and_header_must_agree_and_be_valid() -> None:
    with pytest.raises(InvalidConversationId, match="name different conversations"):
        conversation_id("c1", "c2")
    with pytest.raises(InvalidConversationId, match="blank"):
        conversation_id(None, "")


def test_without_a_conversation_nothing_is_read_or_stored(tmp_path: Path) -> None:
    store = SqliteConversations(tmp_path / "c.db", ROOMY)
    assert with_history(store, None, "alice", turn(1)[:1]) == turn(1)[:1]
    assert remember(store, None, "alice", turn(1)[:1], turn(1)[1]) == ()
    store.close()


def test_a_conversation_grows_turn_by_turn(tmp_path: Path) -> None:
    store = SqliteConversations(tmp_path / "c.db", ROOMY)
    first = (RULES_A, turn(1)[0])
    assert with_history(store, "c1", "alice", first) == first
    assert remember(store, "c1", "alice", first, turn(1)[1]) == (RULES_A, *turn(1))
    second = (turn(2)[0],)
    assert with_history(store, "c1", "alice", second) == (RULES_A, *turn(1), turn(2)[0])
    assert with_history(store, "c1", "bob", second) == second  # bob sees none of it
    store.close()


def test_the_answer_message_keeps_the_tool_calls() -> None:
    call = ToolCall("call_1", "lookup", "{}")
    done = Completion("", "m", Usage(1, 1), 1.0, finish_reason="tool_calls", tool_calls=(call,))
    assert answer_message(done) == Message("assistant", "", tool_calls=(call,))


def test_the_cli_owner_is_the_login_name_and_never_an_api_key_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "ann lee")
    assert local_owner() == "cli:annlee" == check_owner(local_owner())

    def nobody() -> str:
        raise KeyError("getpwuid(): uid not found: 1000")

    monkeypatch.setattr("getpass.getuser", nobody)
    assert local_owner() == "cli"


def test_a_session_trims_what_it_sends_but_keeps_every_turn(tmp_path: Path) -> None:
    store = SqliteConversations(tmp_path / "c.db", ROOMY)
    session = Session(store, "trip", "cli:ann")
    for i in range(1, 4):
        session.remember((turn(i)[0],), turn(i)[1])
    assert session.prompt((Message("user", "and now?"),), budget_tokens=21) == (  # 7 each
        *turn(3),
        Message("user", "and now?"),
    )
    assert len(session.history()) == 6
    with pytest.raises(InvalidConversationId):
        Session(store, "my trip", "cli:ann")
    store.close()
