"""History trimming: whole turns dropped oldest first, instructions and the current turn
always kept, tool calls never separated from their results; counted by hand with a
word counter, then checked as properties over generated histories."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragline.core.chat import Message, ToolCall
from ragline.llm_router.history import (
    MESSAGE_OVERHEAD,
    history_tokens,
    message_tokens,
    trim_history,
    turns,
)
from ragline.llm_router.tokens import count_tokens

pytestmark = pytest.mark.unit


def words(text: str) -> int:
    return len(text.split())


SYSTEM = Message("system", "be brief")  # 2 words + 4 = 6
Q1, A1 = Message("user", "one two three"), Message("assistant", "four five")  # 7, 6
Q2, A2 = Message("user", "six"), Message("assistant", "seven eight nine ten")  # 5, 8
Q3 = Message("user", "eleven twelve")  # 6
CALL = ToolCall("call_1", "lookup", "x y")
ASKS = Message("assistant", "", tool_calls=(CALL,))  # 0 + 1 + 2 + 4 = 7
RESULT = Message("tool", "found it", tool_call_id="call_1")  # 6


def test_message_tokens_count_content_name_tool_calls_and_framing() -> None:
    assert message_tokens(Q1, words) == 3 + MESSAGE_OVERHEAD
    assert message_tokens(Message("user", "hi", name="ann"), words) == 2 + MESSAGE_OVERHEAD
    assert message_tokens(ASKS, words) == 3 + MESSAGE_OVERHEAD
    assert message_tokens(Message("user", "hello world")) == count_tokens("hello world") + 4
    assert history_tokens([SYSTEM, Q1, A1], words) == 6 + 7 + 6


def test_turns_start_at_user_messages_and_skip_instructions() -> None:
    greeting = Message("assistant", "Hi! Ask me anything.")
    messages = [SYSTEM, greeting, Q1, A1, Message("developer", "x"), Q2, ASKS, RESULT, A2]
    assert turns(messages) == [[1], [2, 3], [5, 6, 7, 8]]
    assert turns([SYSTEM]) == []


@pytest.mark.parametrize(
    ("budget", "kept"),
    [
        (None, [SYSTEM, Q1, A1, Q2, A2, Q3]),
        (38, [SYSTEM, Q1, A1, Q2, A2, Q3]),  # 6 + 13 + 13 + 6: everything fits exactly
        (37, [SYSTEM, Q2, A2, Q3]),
        (25, [SYSTEM, Q2, A2, Q3]),
        (24, [SYSTEM, Q3]),
        (0, [SYSTEM, Q3]),  # instructions and the question stay whatever they cost
    ],
)
def test_oldest_whole_turns_go_first(budget: int | None, kept: list[Message]) -> None:
    assert trim_history([SYSTEM, Q1, A1, Q2, A2, Q3], budget, words) == tuple(kept)


def test_no_gaps_a_turn_that_does_not_fit_ends_the_history() -> None:
    big = Message("assistant", "w " * 50)
    # Q1/A1 would fit after Q2/big is refused, but a history with a hole in it is not kept.
    assert trim_history([Q1, A1, Q2, big, Q3], 30, words) == (Q3,)


def test_instructions_anywhere_stay_in_place() -> None:
    developer = Message("developer", "cite sources")
    messages = [SYSTEM, Q1, A1, developer, Q2, A2, Q3]
    assert trim_history(messages, 0, words) == (SYSTEM, developer, Q3)


def test_a_tool_round_trip_goes_or_stays_whole() -> None:
    messages = [Q1, ASKS, RESULT, A1, Q3]  # turn 1 costs 7 + 7 + 6 + 6 = 26
    assert trim_history(messages, 6 + 26, words) == tuple(messages)
    assert trim_history(messages, 6 + 25, words) == (Q3,)


def test_the_current_turn_keeps_its_tool_results() -> None:
    messages = [Q1, A1, Q3, ASKS, RESULT]  # the model is to answer Q3 from the tool's result
    assert trim_history(messages, 0, words) == (Q3, ASKS, RESULT)


def test_max_messages_counts_every_kept_message() -> None:
    messages = [SYSTEM, Q1, A1, Q2, A2, Q3]
    assert trim_history(messages, None, words, max_messages=4) == (SYSTEM, Q2, A2, Q3)
    assert trim_history(messages, None, words, max_messages=3) == (SYSTEM, Q3)
    assert trim_history(messages, 25, words, max_messages=6) == (SYSTEM, Q2, A2, Q3)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="budget_tokens"):
        trim_history([Q1], -1)
    with pytest.raises(ValueError, match="max_messages"):
        trim_history([Q1], None, max_messages=0)


def test_short_histories_come_back_as_they_are() -> None:
    assert trim_history([], 10, words) == ()
    assert trim_history([SYSTEM, Q1], 0, words) == (SYSTEM, Q1)


# --- properties ----------------------------------------------------------------------------------
def _exchange(user: str, answer: str, tool: bool) -> list[Message]:
    out = [Message("user", user)]
    if tool:
        out += [
            Message("assistant", "", tool_calls=(CALL,)),
            Message("tool", answer, tool_call_id="call_1"),
        ]
    return [*out, Message("assistant", answer)]


texts = st.text(alphabet="ab ", max_size=30)
histories = st.builds(
    lambda rules, parts: [*rules, *(m for part in parts for m in part)],
    st.lists(st.builds(Message, st.sampled_from(["system", "developer"]), texts), max_size=2),
    st.lists(st.builds(_exchange, texts, texts, st.booleans()), min_size=1, max_size=8),
)


@given(histories, st.integers(min_value=0, max_value=200))
def test_trimming_keeps_a_valid_suffix_within_the_budget(
    messages: list[Message], budget: int
) -> None:
    trimmed = trim_history(messages, budget, words)
    index = {id(m): i for i, m in enumerate(messages)}
    positions = [index[id(m)] for m in trimmed]
    assert positions == sorted(positions)  # order kept, nothing invented
    rules = [m for m in messages if m.role in ("system", "developer")]
    last = turns(messages)[-1]
    assert all(any(t is m for t in trimmed) for m in rules)
    assert all(any(t is messages[i] for t in trimmed) for i in last)
    mandatory = history_tokens(rules, words) + history_tokens([messages[i] for i in last], words)
    assert history_tokens(trimmed, words) <= max(budget, mandatory)
    said = [m for m in trimmed if m.role not in ("system", "developer")]
    assert said[0].role == "user"  # whole turns: never an orphan answer first
    for i, m in enumerate(said):  # a tool result always follows the call that asked for it
        if m.role == "tool":
            assert said[i - 1].tool_calls
