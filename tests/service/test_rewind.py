"""Rewind, regenerate, edit: messages after one taken out of the history, the context and the count, kept stored
as superseded; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.services.errors import InvalidInput, PreconditionFailed, SessionNotFound, TurnInProgress
from backend.services.etags import session_etag
from backend.services.idempotency import now


def conversation(service, session_id="s1"):
    service.get_or_create_session(session_id)
    said = [("user", "Write a haiku"), ("assistant", "First try"), ("user", "Shorter"), ("assistant", "Second try")]
    return [service.add_message(session_id, role, content) for role, content in said]


def test_a_rewind_takes_the_later_messages_out_of_history_count_and_context_and_keeps_them(service):
    stored = conversation(service)
    done = service.rewind("s1", stored[1].id)
    assert (done.superseded, done.message_count) == (2, 2)
    assert service.get_chat_history("s1") == stored[:2]
    assert service.get_session("s1").message_count == 2 == len(service.get_chat_history("s1"))
    assert service.get_context("s1", max_tokens=10_000).messages == stored[:2]
    page = service.get_history_page("s1", include_superseded=True)
    assert page.messages == stored and page.superseded == {stored[2].id, stored[3].id}
    stats = service.get_session_stats("s1")
    assert (stats.messages_by_role, stats.last_message_at) == ({"user": 1, "assistant": 1}, stored[1].timestamp)
    assert service.list_sessions().sessions[0].last_message_preview == "First try"


def test_regenerate_and_edit_are_a_rewind_then_a_new_message(service):
    stored = conversation(service)
    service.rewind("s1", stored[2].id)  # regenerate: back to before the last reply
    again = service.add_message("s1", "assistant", "Third try")
    assert [m.content for m in service.get_chat_history("s1")] == ["Write a haiku", "First try", "Shorter", "Third try"]
    service.rewind("s1", stored[1].id)  # edit: back to before the second user message, then its new text
    edited = service.add_message("s1", "user", "Longer")
    assert service.get_chat_history("s1") == [*stored[:2], edited]
    page = service.get_history_page("s1", include_superseded=True)
    assert page.superseded == {stored[2].id, stored[3].id, again.id}
    assert service.get_session("s1").message_count == 3


def test_the_newest_message_is_what_pop_and_a_stop_see_after_a_rewind(service):
    stored = conversation(service)
    service.rewind("s1", stored[1].id)
    assert service.pop_last_message("s1") == stored[1]
    assert service.get_session("s1").message_count == 1


def test_a_message_that_is_not_in_the_history_is_refused_and_nothing_changes(service):
    stored = conversation(service)
    service.rewind("s1", stored[2].id)
    other = conversation(service, "s2")
    for bad in (stored[3].id, other[0].id, 10**9):  # superseded, another session's, none
        with pytest.raises(InvalidInput) as raised:
            service.rewind("s1", bad)
        assert set(raised.value.errors) == {"after_message_id"}
    for bad in (0, -1, "3", True):
        with pytest.raises(InvalidInput):
            service.rewind("s1", bad)
    assert service.get_chat_history("s1") == stored[:3]
    with pytest.raises(SessionNotFound):
        service.rewind("s1", stored[0].id, owner="someone-else")


def test_a_rewind_while_a_turn_holds_the_session_is_refused(service):
    stored = conversation(service)
    with service.uow.write() as store:
        store.leases.take("s1", "a-running-turn", now(), now() + timedelta(seconds=5))
    with pytest.raises(TurnInProgress):
        service.rewind("s1", stored[0].id)
    assert service.get_chat_history("s1") == stored
    with service.uow.write() as store:
        store.leases.release("s1", "a-running-turn")
    assert service.rewind("s1", stored[0].id).superseded == 3


def test_if_match_and_an_idempotency_key(service):
    stored = conversation(service)
    with pytest.raises(PreconditionFailed):
        service.rewind("s1", stored[0].id, if_match='"stale"')
    etag = session_etag(service.get_session("s1"))
    first = service.rewind("s1", stored[1].id, idempotency_key="rw-1", if_match=f'"{etag}"')
    service.add_message("s1", "assistant", "a new reply")
    again = service.rewind("s1", stored[1].id, idempotency_key="rw-1")
    assert again == first and len(service.get_chat_history("s1")) == 3  # replayed: the new reply stays


def test_a_summary_of_messages_a_rewind_took_out_is_no_longer_used(service):
    stored = conversation(service)
    early = service.add_summary("s1", "asked for a haiku", covers_through=stored[0].id)
    service.add_summary("s1", "two tries so far", covers_through=stored[3].id)
    service.rewind("s1", stored[1].id)
    window = service.get_context("s1", max_tokens=10_000)
    assert window.summary == early and window.messages == [stored[1]]
