"""A resume on a worker that does not run the turn: its access check and the events it missed in one statement."""

from __future__ import annotations

import json

import pytest

from backend.services.errors import SessionNotFound, TurnNotFound
from backend.services.idempotency import now
from tests.databases import driver_statements


def _turn_with_events(service, session_id, turn_id, events, owner=None):
    """A turn running in another process (not in this one's RUNNING), with its kept events; the session's id."""
    session_id = service.get_or_create_session(None if owner else session_id, owner=owner).session_id
    message_id = service.save_message(session_id, "user", f"hi from {session_id}", owner=owner)
    with service.uow.write() as store:
        store.turns.add(turn_id, session_id, message_id, now())
        store.turns.add_events([(turn_id, seq, name, json.dumps(data)) for seq, name, data in events])
    return session_id


EVENTS = [(2, "delta", {"text": "é"}), (3, "delta", {"text": "b"}), (4, "done", {"content": "éb"})]


@pytest.mark.parametrize("after", [0, 1, 2, 4])
def test_one_statement_reads_what_the_check_and_the_cursor_read(service, after):
    _turn_with_events(service, "s1", "t1", EVENTS)
    with service.uow.read() as store:
        session, turn, message = store.turns.with_session_and_message("s1", "t1")
        missed = store.turns.events_after("t1", after)
        combined = store.turns.with_session_message_and_events("s1", "t1", after)
        # The joined row, read on the driver's cursor, maps as each table's own read maps its row.
        each = (store.sessions.get("s1"), store.turns.get("t1"), store.messages.get("s1", turn.user_message_id))
    assert (session, turn, message) == each
    assert combined == (session, turn, message, missed)
    assert [event.id for event in combined[3]] == [seq for seq, _, _ in EVENTS if seq > after]


def test_the_events_keep_their_text_as_it_was_written(service):
    _turn_with_events(service, "s1", "t1", EVENTS)
    with service.uow.read() as store:
        *_, events = store.turns.with_session_message_and_events("s1", "t1", 1)
    assert [event.data_json for event in events] == [json.dumps(data) for _, _, data in EVENTS]
    assert [event.data for event in events] == [data for _, _, data in EVENTS]


def test_a_missing_session_or_turn_reads_as_missing_with_the_turn_ids_events_beside(service):
    _turn_with_events(service, "s1", "t1", EVENTS)
    service.get_or_create_session("s2")
    with service.uow.read() as store:
        assert store.turns.with_session_message_and_events("nobody", "t1", 0)[:3] == (None, None, None)
        session, turn, message, events = store.turns.with_session_message_and_events("s2", "t1", 0)
    assert session.session_id == "s2" and turn is None and message is None
    assert len(events) == 3  # the caller must not use them: the check found no such turn on s2


def test_a_turn_of_another_session_is_not_followed(service):
    _turn_with_events(service, "s1", "t1", EVENTS)
    service.get_or_create_session("s2")
    with pytest.raises(TurnNotFound):
        list(service.turn_events("s2", "t1", after=0))
    assert [event.id for event in service.turn_events("s1", "t1", after=1)] == [2, 3, 4]


def test_a_resume_of_a_turn_run_elsewhere_reads_everything_in_one_statement(service):
    _turn_with_events(service, "s1", "t1", EVENTS)
    with driver_statements(service.uow.engine) as statements:
        events = list(service.turn_events("s1", "t1", after=0))
    assert [(event.id, event.event) for event in events] == [(1, "message"), (2, "delta"), (3, "delta"), (4, "done")]
    assert events[0].data["content"] == "hi from s1" and events[0].data["turn_id"] == "t1"
    assert len(statements) == 1 and "UNION ALL" in statements[0], statements


def test_another_owners_turn_is_missing_on_this_path_too(service):
    session_id = _turn_with_events(service, None, "t1", EVENTS, owner="alice")
    with pytest.raises(SessionNotFound):
        list(service.turn_events(session_id, "t1", after=1, owner="bob"))
    assert [event.id for event in service.turn_events(session_id, "t1", after=1, owner="alice")] == [2, 3, 4]
