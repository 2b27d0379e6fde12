"""SessionService.pop_last_message: the newest message leaves, and the count with it, in one transaction."""

import pytest
import sqlalchemy as sa

from backend.services.errors import SessionNotFound


def _stored_count(service, session_id):
    with service.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT count(*) FROM chat_history WHERE session_id = :s"), {"s": session_id}
        ).scalar()
        count = conn.execute(
            sa.text("SELECT message_count FROM sessions WHERE session_id = :s"), {"s": session_id}
        ).scalar()
    return rows, count


def test_pop_removes_and_returns_the_newest_message_and_lowers_the_count(service):
    service.get_or_create_session("s1")
    first = service.add_message("s1", "user", "first", {"n": 1})
    second = service.add_message("s1", "assistant", "second", {"n": 2})
    popped = service.pop_last_message("s1")
    assert popped == second
    assert [m.id for m in service.get_chat_history("s1")] == [first.id]
    assert _stored_count(service, "s1") == (1, 1)


def test_pop_on_an_empty_session_returns_none_and_keeps_the_count_at_zero(service):
    service.get_or_create_session("s1")
    service.add_message("s1", "user", "only")
    assert service.pop_last_message("s1").content == "only"
    assert service.pop_last_message("s1") is None
    assert _stored_count(service, "s1") == (0, 0)


def test_pop_touches_only_its_own_session(service):
    service.get_or_create_session("a")
    service.get_or_create_session("b")
    kept = service.add_message("b", "user", "b's message")
    service.add_message("a", "user", "a's message")
    service.pop_last_message("a")
    assert service.get_chat_history("b") == [kept]
    assert _stored_count(service, "b") == (1, 1)


def test_pop_on_an_unknown_session_is_session_not_found(service):
    with pytest.raises(SessionNotFound):
        service.pop_last_message("nobody")
