"""Turns over the API and from Python: the turn id in every answer, the state, the events, a stop; and in jwt
mode another owner's turn is exactly a missing one."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from backend.services.async_session import AsyncSessionService
from backend.services.errors import InvalidInput
from tests.api.test_access_control import ALICE, BOB, KEY  # noqa: F401 - one signing key for both owners
from tests.auth.tokens import AUDIENCE, ISSUER, public_pem
from tests.rows import dump_rows
from tests.turns.conftest import SSE, frames


def turn_path(session_id, turn_id, suffix=""):
    return f"/api/v1/sessions/{session_id}/turns/{turn_id}{suffix}"


@pytest.fixture
def client(make_app):
    client = make_app(CHAT_AGENT="tests.fakes.agents:streaming").test_client()
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    return client


def test_a_json_turn_answers_its_turn_id_and_the_turn_reads_back_completed(client):
    answer = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}).get_json()
    turn = client.get(turn_path("s1", answer["turn_id"])).get_json()
    assert turn == {
        "turn_id": answer["turn_id"],
        "session_id": "s1",
        "status": "completed",
        "user_message": answer["message"],
        "reply": answer["reply"],
    }
    events = list(frames(client.get(turn_path("s1", answer["turn_id"], "/events"), headers={"Last-Event-ID": "2"})))
    assert [name for name, _ in events] == ["delta", "delta", "done"] and events[-1][1] == answer["reply"]


def test_a_stop_refuses_what_is_not_a_count_of_characters_heard_and_stores_nothing(client, service):
    turn_id = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}).get_json()["turn_id"]
    before = dump_rows(service.engine)
    for body in ({"heard_chars": -1}, {"heard_chars": 2.5}, {"heard_chars": "3"}, {"heard_chars": None, "x": 1}):
        response = client.post(turn_path("s1", turn_id, "/stop"), json=body)
        assert response.status_code == 422, body
    # More than the store's integers hold: refused by the value rule, before any turn is looked at (a running
    # turn's stop would have kept it in turns.heard_chars, a 32-bit column).
    huge = client.post(turn_path("s1", turn_id, "/stop"), json={"heard_chars": 2**31})
    assert huge.status_code == 422 and huge.get_json()["errors"]["heard_chars"] == [
        "must be an integer from 0 to 2147483647 (Unicode code points heard)"
    ]
    with pytest.raises(InvalidInput) as refused:
        service.stop_turn("s1", "no-such-turn", heard_chars=2**40)
    assert list(refused.value.errors) == ["heard_chars"]
    too_long = client.post(turn_path("s1", turn_id, "/stop"), json={"heard_chars": 14})  # "one two three": 13
    assert too_long.status_code == 422 and too_long.get_json()["errors"]["heard_chars"] == [
        "must be at most 13, the length of the reply"
    ]
    assert dump_rows(service.engine) == before
    whole = client.post(turn_path("s1", turn_id, "/stop"))  # no body: the user heard all of it
    assert whole.status_code == 200 and whole.get_json()["reply"]["metadata"] == {
        "agent": "streaming",
        "status": "interrupted",
    }


def test_a_missing_turn_or_a_turn_of_another_session_is_404(client):
    turn_id = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}).get_json()["turn_id"]
    client.post("/api/v1/sessions", json={"session_id": "s2"})
    for path in (turn_path("s1", "no-such-turn"), turn_path("s2", turn_id), turn_path("s2", turn_id, "/events")):
        response = client.get(path)
        assert response.status_code == 404 and response.get_json()["message"] == "turn not found", path


def test_a_last_event_id_that_no_event_can_have_is_422_from_http_and_python(client, service):
    turn_id = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}).get_json()["turn_id"]
    for sent in ("-1", "2147483648", "13802530332222803968"):
        for session_id in ("s1", "no-such-session"):  # named before the session or the turn is looked up
            response = client.get(turn_path(session_id, turn_id, "/events"), headers={"Last-Event-ID": sent})
            assert response.status_code == 422, (sent, session_id)
            assert response.get_json()["errors"] == {
                "last_event_id": ["must be an event id: an integer from 0 to 2147483647"]
            }
    last = client.get(turn_path("s1", turn_id, "/events"), headers={"Last-Event-ID": "2147483647"})
    assert last.status_code == 200
    with pytest.raises(InvalidInput) as refused:
        list(service.turn_events("s1", turn_id, after=2**40))
    assert refused.value.errors == {"after": ["must be an event id: an integer from 0 to 2147483647"]}


def test_in_jwt_mode_another_owners_turn_is_exactly_a_missing_one_on_every_turn_route(make_app, service):
    app = make_app(
        AUTH_MODE="jwt",
        JWT_PUBLIC_KEY=public_pem(KEY),
        JWT_AUDIENCE=AUDIENCE,
        JWT_ISSUER=ISSUER,
        CHAT_AGENT="tests.fakes.agents:streaming",
    )
    http = app.test_client()
    sid = http.post("/api/v1/sessions", headers=ALICE).get_json()["session_id"]
    turn_id = http.post("/api/v1/chat", json={"session_id": sid, "message": "hi"}, headers=ALICE).get_json()["turn_id"]
    before = dump_rows(service.engine)
    for suffix, method in (("", "GET"), ("/events", "GET"), ("/stop", "POST")):
        seen = http.open(turn_path(sid, turn_id, suffix), method=method, headers=BOB)
        missing = http.open(turn_path("no-such-session", turn_id, suffix), method=method, headers=BOB)
        assert seen.status_code == 404 and seen.get_json() == missing.get_json(), suffix
    assert dump_rows(service.engine) == before
    assert http.get(turn_path(sid, turn_id), headers=ALICE).get_json()["status"] == "completed"


def test_from_python_a_turn_reads_stops_and_replays_its_events_sync_and_async(client, service):
    turn_id = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}, headers=SSE)
    turn_id = next(frames(turn_id))[1]["turn_id"]
    assert [event.event for event in service.turn_events("s1", turn_id)] == [
        "message",
        "delta",
        "delta",
        "delta",
        "done",
    ]
    state = service.stop_turn("s1", turn_id, heard_chars=4, idempotency_key="stop-1")
    assert (state.status, state.reply.content, state.reply.metadata["unheard"]) == ("interrupted", "one ", "two three")
    assert service.stop_turn("s1", turn_id, heard_chars=4, idempotency_key="stop-1") == state
    assert service.get_turn("s1", turn_id) == state

    async def follow():
        async with AsyncSessionService(service=service) as async_service:
            return [event.id async for event in async_service.turn_events("s1", turn_id, after=3)]

    assert asyncio.run(follow()) == [4, 5]


def test_deleting_a_session_or_clearing_its_history_deletes_its_turns_and_every_event_of_them(client, service):
    def kept(session_id):
        sid = {"sid": session_id}
        with service.engine.connect() as conn:
            turns = conn.execute(sa.text("SELECT turn_id FROM turns WHERE session_id = :sid"), sid).all()
            events = conn.execute(
                sa.text(
                    "SELECT count(*) FROM turn_events "
                    "WHERE turn_id IN (SELECT turn_id FROM turns WHERE session_id = :sid)"
                ),
                sid,
            ).scalar()
            orphans = conn.execute(
                sa.text("SELECT count(*) FROM turn_events WHERE turn_id NOT IN (SELECT turn_id FROM turns)")
            ).scalar()
        return len(turns), events, orphans

    client.post("/api/v1/sessions", json={"session_id": "s2"})
    for session_id in ("s1", "s2"):
        client.post("/api/v1/chat", json={"session_id": session_id, "message": "secret"})
    assert kept("s1") == (1, 4, 0)  # three deltas and done (the message event is built from the turn row)
    assert client.delete("/api/v1/sessions/s1/messages").status_code == 204
    assert kept("s1") == (0, 0, 0)
    assert client.delete("/api/v1/sessions/s2").status_code == 204
    assert kept("s2") == (0, 0, 0)
