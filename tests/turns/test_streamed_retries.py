"""Streamed turns keep the guarantees of the JSON ones: one turn at a time per session, exactly once per key."""

from tests.fakes import agents
from tests.turns.conftest import SSE, frames
from tests.turns.test_streamed_turns import count, ended, messages, stream


def test_a_streamed_turn_replayed_with_its_key_is_one_message_and_one_done_event_with_no_new_effect(turn_client):
    client = turn_client("streaming")
    key = {"Idempotency-Key": "stream-once-1"}
    first = list(frames(stream(client, headers=key)))
    assert [name for name, _ in first] == ["message", "delta", "delta", "delta", "done"]
    stored = messages(client)
    replay = list(frames(stream(client, headers=key)))
    assert [name for name, _ in replay] == ["message", "done"]
    assert replay[0][1] == first[0][1] and replay[1][1] == first[-1][1]
    assert messages(client) == stored and count(client) == 2


def test_the_same_key_replays_a_streamed_turn_as_json_too(turn_client):
    client = turn_client("streaming")
    key = {"Idempotency-Key": "stream-once-2"}
    streamed = list(frames(stream(client, headers=key)))
    as_json = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}, headers=key).get_json()
    first = dict(streamed[0][1])
    assert as_json["turn_id"] == first.pop("turn_id") and as_json["message"] == first
    assert as_json["reply"] == streamed[-1][1]
    assert count(client) == 2


def test_a_second_turn_while_one_streams_is_409_and_stores_nothing(turn_client):
    client = turn_client("remembering")
    running = stream(client, on_disconnect="stop")
    events = frames(running)
    (name, message), (next_name, _) = next(events), next(events)
    assert (name, next_name) == ("message", "delta")  # the first turn is under way
    second = client.post("/api/v1/chat", json={"session_id": "s1", "message": "me too"}, headers=SSE)
    assert second.status_code == 409 and int(second.headers["Retry-After"]) >= 1
    running.close()  # the client leaves (on_disconnect stop): the first turn ends as interrupted, its lease back
    assert agents.closed.wait(5) and ended(client, message["turn_id"])["status"] == "interrupted"
    assert [m["content"] for m in messages(client) if m["role"] == "user"] == ["hi"]
    again = stream(client, message="now")
    assert again.status_code == 200 and next(frames(again))[0] == "message"
    again.close()
