"""Streamed turns in the app: SSE events, what was said kept however the turn ends, overload refused before storing."""

import logging
import time

from backend.observability.logs import session_ref
from tests.fakes import agents
from tests.turns.conftest import SSE, frames


def stream(client, route="/api/v1/chat", headers=None, **body):
    body = {"session_id": "s1", **({"message": "hi"} if route.endswith("chat") else {"transcript": "hi"}), **body}
    return client.post(route, json=body, headers={**SSE, **(headers or {})}, buffered=False)


def ended(client, turn_id, session_id="s1", timeout_s=5.0):
    """The turn's state once it is no longer running (its runner stores the reply after the client left)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = client.get(f"/api/v1/sessions/{session_id}/turns/{turn_id}").get_json()
        if state["status"] != "running" or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def messages(client, session_id="s1"):
    return client.get(f"/api/v1/sessions/{session_id}/messages").get_json()["messages"]


def count(client, session_id="s1"):
    return client.get(f"/api/v1/sessions/{session_id}").get_json()["message_count"]


def test_a_streamed_chat_sends_message_then_each_delta_then_the_stored_reply(turn_client):
    client = turn_client("streaming")
    response = stream(client)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = list(frames(response))
    assert [name for name, _ in events] == ["message", "delta", "delta", "delta", "done"]
    assert (events[0][1]["role"], events[0][1]["content"]) == ("user", "hi")
    assert [data["text"] for name, data in events if name == "delta"] == ["one ", "two ", "three"]
    done = events[-1][1]
    assert (done["role"], done["content"], done["metadata"]) == ("assistant", "one two three", {"agent": "streaming"})
    message = dict(events[0][1])
    assert len(message.pop("turn_id")) >= 22  # 128 random bits
    assert messages(client) == [message, done]
    assert count(client) == 2


def test_a_streamed_voice_turn_marks_both_messages_as_voice(turn_client):
    client = turn_client("streaming")
    events = list(frames(stream(client, "/api/v1/voice", audio={"format": "wav"})))
    assert events[0][1]["metadata"] == {"modality": "voice", "audio": {"format": "wav"}}
    assert events[-1][1]["metadata"] == {"agent": "streaming", "modality": "voice"}


def test_without_the_accept_header_a_streaming_agent_still_answers_one_json_body(turn_client):
    client = turn_client("streaming")
    body = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}).get_json()
    assert (body["reply"]["content"], body["reply"]["metadata"]) == ("one two three", {"agent": "streaming"})


def test_with_on_disconnect_stop_a_client_that_leaves_keeps_what_it_heard_as_interrupted_and_the_agent_is_closed(
    turn_client,
):
    client = turn_client("remembering")
    response = stream(client, on_disconnect="stop")
    events = frames(response)
    first = [next(events) for _ in range(3)]
    assert [name for name, _ in first] == ["message", "delta", "delta"]
    response.close()  # the client leaves while the second chunk is on its way
    assert agents.closed.wait(5)
    assert ended(client, first[0][1]["turn_id"])["status"] == "interrupted"
    # A chunk counts as said once the server comes back for the next one: the first was, the second
    # was still being written when the client left.
    reply = messages(client)[-1]
    assert (reply["role"], reply["content"], reply["metadata"]["status"]) == ("assistant", "chunk1 ", "interrupted")
    assert reply["metadata"]["unheard"].startswith("chunk2 ")  # generated, not heard: kept, out of the content
    assert count(client) == 2


def test_with_on_disconnect_stop_a_client_that_leaves_before_any_chunk_was_heard_stores_no_reply(turn_client):
    client = turn_client("remembering")
    response = stream(client, on_disconnect="stop")
    name, message = next(frames(response))
    assert name == "message"
    response.close()
    assert ended(client, message["turn_id"]) == {
        "turn_id": message["turn_id"],
        "session_id": "s1",
        "status": "interrupted",
        "user_message": {k: v for k, v in message.items() if k != "turn_id"},
        "reply": None,
    }
    assert [m["role"] for m in messages(client)] == ["user"] and count(client) == 1


def test_an_agent_that_fails_mid_stream_keeps_the_partial_reply_as_failed_and_sends_an_error(turn_client, caplog):
    client = turn_client("breaking")
    with caplog.at_level(logging.INFO, logger="backend"):
        events = list(frames(stream(client, headers={"X-Request-ID": "req-42"})))
    assert [name for name, _ in events] == ["message", "delta", "delta", "error"]
    error = events[-1][1]
    assert (error["code"], error["status"]) == (502, "Bad Gateway")
    assert "/secret/path" not in error["message"]
    reply = messages(client)[-1]
    assert (reply["content"], reply["metadata"]) == ("half said ", {"status": "failed"})
    assert count(client) == 2
    lines = [r.getMessage() for r in caplog.records if "agent_call outcome=failed" in r.getMessage()]
    assert len(lines) == 1 and f"session_id={session_ref('s1')} request_id=req-42 " in lines[0]
    assert lines[0].endswith(" reason=the agent failed (RuntimeError)")


def test_an_agent_that_passes_its_deadline_mid_stream_keeps_the_partial_reply_as_failed(turn_client, caplog):
    client = turn_client("stalling", AGENT_TIMEOUT_S=0.3)
    with caplog.at_level(logging.WARNING, logger="backend"):
        events = list(frames(stream(client)))
    assert [name for name, _ in events] == ["message", "delta", "error"]
    assert "did not answer within 0.3 s" in events[-1][1]["message"]
    assert (messages(client)[-1]["content"], messages(client)[-1]["metadata"]) == ("first ", {"status": "failed"})
    assert any(f"agent_call outcome=timeout session_id={session_ref('s1')}" in r.getMessage() for r in caplog.records)


def test_a_stream_that_ends_without_text_stores_no_reply_and_ends_in_an_error(turn_client):
    client = turn_client("silent")
    events = list(frames(stream(client)))
    assert [name for name, _ in events] == ["message", "error"] and events[-1][1]["code"] == 502
    assert count(client) == 1 and len(messages(client)) == 1


def test_a_turn_beyond_max_agent_calls_is_503_with_retry_after_and_stores_nothing(turn_client, caplog):
    client = turn_client("remembering", MAX_AGENT_CALLS=1)
    client.post("/api/v1/sessions", json={"session_id": "s2"})
    holding = stream(client, on_disconnect="stop")  # holds the only slot while its response is open
    assert next(frames(holding))[0] == "message"
    with caplog.at_level(logging.WARNING, logger="backend"):
        refused = client.post("/api/v1/chat", json={"session_id": "s2", "message": "hi"})
        refused_stream = client.post("/api/v1/chat", json={"session_id": "s2", "message": "hi"}, headers=SSE)
    for response in (refused, refused_stream):
        assert response.status_code == 503 and response.headers["Retry-After"] == "2"
        assert response.get_json()["status"] == "Service Unavailable"
    assert messages(client, "s2") == [] and count(client, "s2") == 0
    assert (
        sum(f"agent_call outcome=refused session_id={session_ref('s2')}" in r.getMessage() for r in caplog.records) == 2
    )
    holding.close()
    assert agents.closed.wait(5)
    again = stream(client, session_id="s2")  # the slot is free again
    assert again.status_code == 200 and next(frames(again))[0] == "message"
    again.close()
