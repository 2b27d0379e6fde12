"""Turns as phones and voice devices live them, against real gunicorn (2 workers, or two servers on one
database) and a real streaming agent on loopback: resume after a dropped connection, stop with what the user
heard, a crashed worker's turn freed in seconds."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.turns.sse_client import StreamedChat
from tests.turns.test_turns_server import count, history, open_session, wait_for

pytestmark = pytest.mark.slow


def turn_url(server, turn_id, suffix="", session_id="s1"):
    return f"{server.base_url}/api/v1/sessions/{session_id}/turns/{turn_id}{suffix}"


def state(server, turn_id, session_id="s1"):
    return requests.get(turn_url(server, turn_id, session_id=session_id), timeout=10).json()


def test_a_client_that_drops_after_two_deltas_resumes_with_last_event_id_and_gets_exactly_the_rest(
    database_url, launch, agent
):
    agent.chunks, agent.hold_after, agent.gap_s = ["one ", "two ", "three ", "four ", "five"], 2, 0.05
    server = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream")
    open_session(server, "s1")
    chat = StreamedChat(server.base_url, {"session_id": "s1", "message": "hi"})
    events = iter(chat)
    first = [next(events) for _ in range(3)]
    assert [name for name, _, _ in first] == ["message", "delta", "delta"] and chat.ids == [1, 2, 3]
    turn_id = first[0][1]["turn_id"]
    chat.leave()  # a phone switching from Wi-Fi to mobile data
    agent.release.set()  # the agent goes on: the disconnect is not a stop
    received = "".join(data["text"] for name, data, _ in first if name == "delta")
    resumed = StreamedChat(server.base_url, None, turn_url(server, turn_id, "/events"), headers={"Last-Event-ID": "3"})
    rest = list(resumed)
    assert resumed.status == 200 and [name for name, _, _ in rest] == ["delta", "delta", "delta", "done"]
    assert resumed.ids == [4, 5, 6, 7]  # every event after 3, each once, in order
    received += "".join(data["text"] for name, data, _ in rest if name == "delta")
    reply = history(server, "s1")[-1]
    assert received == "one two three four five" == reply["content"] == rest[-1][1]["content"]
    assert reply["metadata"] == {"agent": "streaming"}  # complete: no status
    assert not agent.hung_up.is_set()
    assert state(server, turn_id)["status"] == "completed" and count(server, "s1") == len(history(server, "s1")) == 2
    # After the end, the whole turn replays from the start, from any worker.
    replay = StreamedChat(server.base_url, None, turn_url(server, turn_id, "/events"))
    assert [name for name, _, _ in replay] == ["message", *["delta"] * 5, "done"] and replay.ids == list(range(1, 8))


def test_a_stop_with_heard_chars_on_a_completed_turn_keeps_what_was_heard_and_the_next_agent_sees_only_that(
    database_url, launch, agent
):
    agent.chunks = ["Hello, ", "wörld ", "and more"]
    server = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream")
    open_session(server, "s1")
    answer = requests.post(f"{server.base_url}/api/v1/chat", json={"session_id": "s1", "message": "hi"}, timeout=10)
    turn_id = answer.json()["turn_id"]
    assert answer.status_code == 200 and answer.json()["reply"]["content"] == "Hello, wörld and more"
    stop = requests.post(turn_url(server, turn_id, "/stop"), json={"heard_chars": 12}, timeout=10)
    assert stop.status_code == 200
    reply = stop.json()["reply"]
    assert stop.json()["status"] == "interrupted" and reply["content"] == "Hello, wörld"  # 12 code points
    assert reply["metadata"] == {"agent": "streaming", "status": "interrupted", "unheard": " and more"}
    again = requests.post(turn_url(server, turn_id, "/stop"), json={"heard_chars": 12}, timeout=10)
    assert again.status_code == 200 and again.json() == stop.json()  # a second stop changes nothing
    for bad in (22, -1, 1.5, "3", True):
        refused = requests.post(turn_url(server, turn_id, "/stop"), json={"heard_chars": bad}, timeout=10)
        assert refused.status_code == 422 and "heard_chars" in refused.json()["errors"], bad
    requests.post(f"{server.base_url}/api/v1/chat", json={"session_id": "s1", "message": "go on"}, timeout=10)
    assert [m["content"] for m in agent.bodies[-1]["history"]] == ["hi", "Hello, wörld"]
    moved_on = requests.post(turn_url(server, turn_id, "/stop"), json={"heard_chars": 3}, timeout=10)
    assert moved_on.status_code == 409  # its reply is no longer the newest assistant message
    assert count(server, "s1") == len(history(server, "s1")) == 4


def test_a_stop_sent_to_another_server_cuts_the_running_agent_within_200_ms(database_url, launch, agent):
    agent.chunks, agent.gap_s = [f"chunk{i} " for i in range(200)], 0.02
    running_on = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream", name="a")
    other = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream", name="b", migrate_first=False)
    open_session(running_on, "s1")
    chat = StreamedChat(running_on.base_url, {"session_id": "s1", "message": "hi"})
    events = iter(chat)
    turn_id = next(events)[1]["turn_id"]
    heard = "".join(next(events)[1]["text"] for _ in range(3))
    sent = time.monotonic()
    stop = requests.post(turn_url(other, turn_id, "/stop"), json={"heard_chars": len(heard)}, timeout=10)
    assert agent.hung_up.wait(5) and agent.hung_up_at - sent < 0.2
    assert stop.status_code == 200 and stop.json()["status"] == "interrupted"
    assert stop.json()["reply"]["content"] == heard and stop.json()["reply"]["metadata"]["status"] == "interrupted"
    assert [name for name, _, _ in events][-1] == "done"  # the follower on the first server saw the end
    chat.leave()


def test_a_worker_killed_mid_turn_frees_its_session_within_the_lease_its_partial_reply_stored_as_failed(
    database_url, launch, agent
):
    agent.chunks, agent.hold_after = ["partial ", "answer ", "never sent"], 2
    server = launch(database_url, workers=1, CHAT_AGENT_URL=f"{agent.base_url}/stream", TURN_LEASE_S="2")
    open_session(server, "s1")
    key = {"Idempotency-Key": "turn-1"}
    chat = StreamedChat(server.base_url, {"session_id": "s1", "message": "hi"}, headers=key)
    events = iter(chat)
    turn_id = next(events)[1]["turn_id"]
    assert [next(events)[0] for _ in range(2)] == ["delta", "delta"]
    time.sleep(0.2)  # the journal keeps what was said within 50 ms
    (worker,) = server.worker_pids()
    os.kill(worker, signal.SIGKILL)
    chat.leave()
    killed = time.monotonic()
    agent.hold_after, agent.chunks = None, ["second try"]
    assert wait_for(lambda: len(server.worker_pids()) == 1 and server.worker_pids() != [worker], 10)
    server.wait_until_serving(10)  # each worker binds its own socket: the new one's is not there at its start
    # A follower of the dead turn gets what it had said, then an error, once its lease has lapsed.
    follower = StreamedChat(server.base_url, None, turn_url(server, turn_id, "/events"), timeout_s=10)
    followed = [name for name, _, _ in follower]
    assert followed == ["message", "delta", "delta", "error"] and time.monotonic() - killed < 2 + 1
    assert state(server, turn_id)["status"] == "failed"
    failed = state(server, turn_id)["reply"]
    assert (failed["content"], failed["metadata"]) == ("partial answer ", {"status": "failed"})
    retried = requests.post(
        f"{server.base_url}/api/v1/chat", json={"session_id": "s1", "message": "hi"}, headers=key, timeout=10
    )
    assert retried.status_code == 200 and time.monotonic() - killed < 2 + 1  # within TURN_LEASE_S + 1 s
    rows = history(server, "s1")
    assert [m["content"] for m in rows] == ["hi", "partial answer ", "second try"]  # the user message reused
    assert count(server, "s1") == len(rows) == 3
