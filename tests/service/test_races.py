"""Writes racing a delete or a purge on PostgreSQL: row locks make them wait, never fail or lose data."""

import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from backend.services.errors import SessionNotFound
from backend.services.maintenance import MaintenanceService
from backend.services.session import SessionService


def append_in_another_thread_before(engine, statement_start, service, session_id):
    """When the next statement starting with `statement_start` runs, an append races it from a thread."""
    outcome = {}

    def append():
        try:
            outcome["id"] = service.save_message(session_id, "user", "racing in")
        except Exception as exc:  # recorded, the test judges it
            outcome["error"] = exc

    @event.listens_for(engine, "before_cursor_execute")
    def race(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(statement_start) and "thread" not in outcome:
            outcome["thread"] = threading.Thread(target=append)
            outcome["thread"].start()
            outcome["thread"].join(timeout=1.0)  # with the row locked, the append waits for our commit

    return outcome, lambda: event.remove(engine, "before_cursor_execute", race)


@pytest.fixture
def postgres_service(postgres_schema):
    postgres_schema.empty()
    return SessionService(postgres_schema.url)


def test_an_append_racing_a_delete_waits_and_then_finds_no_session(postgres_service):
    service = postgres_service
    service.get_or_create_session("doomed")
    # Between the two deletes: unlocked, the append's message would break the session delete's foreign key.
    outcome, stop = append_in_another_thread_before(service.engine, "DELETE FROM SESSIONS", service, "doomed")
    try:
        service.delete_session("doomed")
    finally:
        stop()
    outcome["thread"].join(timeout=10)
    assert isinstance(outcome.get("error"), SessionNotFound), outcome
    with service.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM chat_history")).scalar() == 0


def test_a_session_written_to_during_a_purge_is_kept_with_its_message(postgres_service):
    service = postgres_service
    service.get_or_create_session("idle")
    with service.engine.begin() as conn:
        conn.execute(sa.text("UPDATE sessions SET last_active = :t"), {"t": datetime.now() - timedelta(days=90)})
    # The append starts while the purge holds the idle row: it waits, then updates last_active.
    outcome, stop = append_in_another_thread_before(service.engine, "DELETE FROM CHAT_HISTORY", service, "idle")
    try:
        report = MaintenanceService(service.engine).purge_idle_sessions(30)
    finally:
        stop()
    outcome["thread"].join(timeout=10)
    # Either the purge won (the append then finds no session) or the append won (nothing purged);
    # never a purged session whose new message was acknowledged.
    if "id" in outcome:
        assert report.sessions == 0
        assert [m.id for m in service.get_chat_history("idle")] == [outcome["id"]]
    else:
        assert isinstance(outcome["error"], SessionNotFound) and report.sessions == 1


def test_a_forged_listing_cursor_is_refused_not_a_server_error(postgres_service):
    from backend.services.cursors import encode_cursor
    from backend.services.errors import InvalidInput

    postgres_service.get_or_create_session("s1")
    for forged in (["a", 5, "s1"], ["a", "garbage", "s1"], ["a", "2024-01-01", "s1"]):
        with pytest.raises(InvalidInput) as raised:
            postgres_service.list_sessions(cursor=encode_cursor(forged))
        assert "cursor" in raised.value.errors
