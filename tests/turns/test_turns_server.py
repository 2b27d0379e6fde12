"""Turns against real gunicorn (the default worker class) and a real HTTP agent on loopback, on SQLite and
PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from backend.observability.logs import session_ref
from tests.turns.sse_client import StreamedChat

pytestmark = pytest.mark.slow


def open_session(server, session_id):
    assert (
        requests.post(f"{server.base_url}/api/v1/sessions", json={"session_id": session_id}, timeout=10).status_code
        == 201
    )


def history(server, session_id):
    return requests.get(f"{server.base_url}/api/v1/sessions/{session_id}/messages", timeout=10).json()["messages"]


def count(server, session_id):
    return requests.get(f"{server.base_url}/api/v1/sessions/{session_id}", timeout=10).json()["message_count"]


def wait_for(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_streamed_turn_delivers_each_delta_before_the_agent_produces_the_next(database_url, launch, agent):
    agent.gap_s = 0.3
    server = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream")
    assert "Using worker: config.workers.GeventWorker" in server.log_text()
    open_session(server, "s1")
    chat = StreamedChat(server.base_url, {"session_id": "s1", "message": "hi"})
    assert chat.status == 200 and chat.headers["Content-Type"].startswith("text/event-stream")
    events = list(chat)
    assert [name for name, _, _ in events] == ["message", "delta", "delta", "delta", "delta", "done"]
    arrivals = [at for name, _, at in events if name == "delta"]
    # Nothing buffers a delta: each arrives before the agent has even written the next one.
    assert all(arrived < produced_next for arrived, produced_next in zip(arrivals[:-1], agent.sent_at[1:], strict=True))
    done = events[-1][1]
    assert (done["content"], done["metadata"]) == ("Hello, world!", {"agent": "streaming"})
    message = {key: value for key, value in events[0][1].items() if key != "turn_id"}
    assert history(server, "s1") == [message, done] and count(server, "s1") == 2


def test_with_on_disconnect_stop_a_client_that_reads_two_deltas_and_leaves_keeps_those_two_as_interrupted(
    database_url, launch, agent
):
    agent.chunks, agent.hold_after, agent.gap_s = ["one ", "two ", "three ", "four ", "five"], 2, 0.05
    server = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream")
    open_session(server, "s1")
    chat = StreamedChat(server.base_url, {"session_id": "s1", "message": "hi", "on_disconnect": "stop"})
    events = iter(chat)
    assert [next(events)[0] for _ in range(3)] == ["message", "delta", "delta"]
    chat.leave()
    assert wait_for(lambda: count(server, "s1") == 2)
    agent.release.set()
    assert agent.hung_up.wait(10)  # the server closed its stream from the agent: asked for no more
    reply = history(server, "s1")[-1]
    assert (reply["role"], reply["content"], reply["metadata"]) == ("assistant", "one two ", {"status": "interrupted"})
    assert len(history(server, "s1")) == count(server, "s1") == 2
    assert f"turn outcome=interrupted session_id={session_ref('s1')}" in server.log_text()


def test_an_agent_that_breaks_off_mid_stream_keeps_the_partial_as_failed_and_the_client_gets_an_error(
    database_url, launch, agent
):
    server = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/break")
    open_session(server, "s1")
    events = list(StreamedChat(server.base_url, {"session_id": "s1", "message": "hi"}))
    assert [name for name, _, _ in events] == ["message", "delta", "delta", "error"]
    assert (events[-1][1]["code"], events[-1][1]["status"]) == (502, "Bad Gateway")
    reply = history(server, "s1")[-1]
    assert (reply["content"], reply["metadata"]) == ("Hello, ", {"status": "failed"})
    assert count(server, "s1") == 2
    log = server.log_text()
    assert (
        f"agent_call outcome=failed session_id={session_ref('s1')} request_id=" in log
        and "reason=the agent's stream broke off" in log
    )


def test_at_cap_plus_one_concurrent_turns_exactly_one_answers_503_and_nothing_of_it_is_stored(
    database_url, launch, agent
):
    agent.hold_after = 1  # every call holds its slot until released
    server = launch(database_url, workers=1, MAX_AGENT_CALLS="2", CHAT_AGENT_URL=f"{agent.base_url}/stream")
    sessions = ["a", "b", "c"]
    for session_id in sessions:
        open_session(server, session_id)
    answers: dict[str, requests.Response] = {}

    def turn(session_id):
        answers[session_id] = requests.post(
            f"{server.base_url}/api/v1/chat", json={"session_id": session_id, "message": "hi"}, timeout=30
        )

    threads = [threading.Thread(target=turn, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: len(answers) == 1 and agent.calls == 2)
    agent.release.set()
    for thread in threads:
        thread.join(30)
    refused = [s for s, answer in answers.items() if answer.status_code == 503]
    assert sorted(a.status_code for a in answers.values()) == [200, 200, 503]
    assert answers[refused[0]].headers["Retry-After"] == "2"
    assert history(server, refused[0]) == [] and count(server, refused[0]) == 0
    for session_id in set(sessions) - set(refused):
        assert len(history(server, session_id)) == count(server, session_id) == 2
    assert f"agent_call outcome=refused session_id={session_ref(refused[0])}" in server.log_text()


def test_a_hung_in_process_agent_is_logged_and_readyz_says_so_while_it_holds_its_slot(database_url, launch):
    server = launch(database_url, workers=1, CHAT_AGENT="tests.fakes.agents:hanging", AGENT_TIMEOUT_S="0.5")
    open_session(server, "s1")
    answer = requests.post(f"{server.base_url}/api/v1/chat", json={"session_id": "s1", "message": "hi"}, timeout=10)
    assert answer.status_code == 502
    ready = requests.get(f"{server.base_url}/readyz", timeout=10)
    assert ready.status_code == 503 and "hung past their deadline" in ready.json()["message"]
    assert f"agent_call outcome=timeout session_id={session_ref('s1')}" in server.log_text()
    assert wait_for(lambda: requests.get(f"{server.base_url}/readyz", timeout=10).status_code == 200)


def _slow_client(base_url: str, kind: str, closed_after: dict, stop: threading.Event) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    started = time.monotonic()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == "body":
        sock.sendall(
            b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        request = b"{" + b" " * 99
    received = b""
    try:
        for byte in request if kind != "idle" else b"":
            if stop.is_set():
                return
            sock.sendall(bytes([byte]))
            sock.settimeout(1.0)
            try:
                data = sock.recv(4096)
                if not data:
                    break
                received += data
            except TimeoutError:
                continue
        else:
            sock.settimeout(20)
            while data := sock.recv(4096):
                received += data
    except OSError:
        pass
    finally:
        closed_after[kind, id(sock)] = (time.monotonic() - started, received[:12])
        sock.close()


def test_idle_and_trickling_clients_are_cut_off_within_the_client_timeout_while_others_are_served(database_url, launch):
    server = launch(database_url)  # CLIENT_TIMEOUT_S defaults to 5 s
    closed_after: dict = {}
    stop = threading.Event()
    slow = [
        threading.Thread(target=_slow_client, args=(server.base_url, kind, closed_after, stop), daemon=True)
        for kind in ("idle", "headers", "body")
        for _ in range(5)
    ]
    for thread in slow:
        thread.start()
    served = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:  # other clients, while the slow ones hold their connections
        assert requests.get(f"{server.base_url}/healthz", timeout=2).status_code == 200
        assert requests.post(f"{server.base_url}/api/v1/sessions", json={}, timeout=2).status_code == 201
        served += 1
    for thread in slow:
        thread.join(15)
    stop.set()
    assert served > 10
    assert len(closed_after) == 15
    assert all(seconds <= 10 for seconds, _ in closed_after.values()), closed_after
    body_answers = {received for (kind, _), (_, received) in closed_after.items() if kind == "body"}
    assert body_answers == {b"HTTP/1.1 408"}
