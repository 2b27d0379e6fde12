"""Turns over real gunicorn (2 workers) and a slow loopback HTTP agent: one turn per session, exactly once per key."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from backend.store.engines import get_engine
from tests.rows import row_counts

pytestmark = pytest.mark.slow
TIMEOUT = 30


def history(server, sid="s1"):
    return requests.get(f"{server.base_url}/api/v1/sessions/{sid}/messages", timeout=TIMEOUT).json()["messages"]


def create_session(server, sid="s1"):
    assert (
        requests.post(f"{server.base_url}/api/v1/sessions", json={"session_id": sid}, timeout=TIMEOUT).status_code
        == 201
    )


def chat(server, text, key=None, sid="s1"):
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(
        f"{server.base_url}/api/v1/chat", json={"session_id": sid, "message": text}, headers=headers, timeout=TIMEOUT
    )


def test_two_turns_at_once_on_one_session_give_exactly_one_409(database_url, launch, slow_agent):
    slow_agent.delay_s = 1.0
    server = launch(database_url, CHAT_AGENT_URL=slow_agent.url, AGENT_TIMEOUT_S="10")
    create_session(server)
    start = threading.Barrier(2)

    def turn(text):
        start.wait()
        return chat(server, text)

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(turn, ["one", "two"]))
    assert sorted(r.status_code for r in responses) == [200, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert int(refused.headers["Retry-After"]) >= 1 and "another turn" in refused.json()["message"]
    assert [m["role"] for m in history(server)] == ["user", "assistant"]
    # Appends are not blocked by a turn, and the next turn may begin once this one ended.
    assert chat(server, "three").status_code == 200


def test_a_retry_storm_of_20_chats_with_one_key_gives_one_effect(database_url, launch, slow_agent):
    slow_agent.delay_s = 1.0
    server = launch(database_url, CHAT_AGENT_URL=slow_agent.url, AGENT_TIMEOUT_S="10")
    create_session(server)
    start = threading.Barrier(20)

    def retry(i):
        start.wait()
        time.sleep(0.1 * i)  # retries over the first turn's second, and after it
        return chat(server, "hello", key="storm-1")

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(retry, range(20)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, statuses
    bodies = {r.content for r in responses if r.status_code == 200}
    assert len(bodies) == 1, "every 200 is the identical stored outcome"
    assert all("Retry-After" in r.headers for r in responses if r.status_code == 409)
    assert slow_agent.calls == 1
    assert [(m["role"], m["content"]) for m in history(server)] == [("user", "hello"), ("assistant", "reply to hello")]
    assert chat(server, "hello", key="storm-1").content in bodies
    assert row_counts(get_engine(database_url))[1] == 2


def test_a_turn_whose_worker_was_killed_is_retried_with_its_key_once(database_url, launch, slow_agent):
    slow_agent.hang_first = True
    server = launch(database_url, CHAT_AGENT_URL=slow_agent.url, AGENT_TIMEOUT_S="3", TURN_LEASE_MARGIN_S="1")
    create_session(server)
    first = ThreadPoolExecutor(1).submit(chat, server, "hello", "turn-1")
    slow_agent.wait_for_calls(1)  # the user message is stored, the agent is thinking
    stored_before = [m["id"] for m in history(server)]
    killed_at = time.monotonic()
    server.replace_workers()  # SIGKILL mid-turn
    with pytest.raises(requests.RequestException):
        first.result(timeout=TIMEOUT)
    slow_agent.release.set()

    statuses = []
    while True:
        retry = chat(server, "hello", key="turn-1")
        statuses.append(retry.status_code)
        if retry.status_code != 409:
            break
        assert time.monotonic() - killed_at < 3 + 1 + 5, "the dead turn blocked its session past its lease"
        time.sleep(0.2)
    assert retry.status_code == 200, retry.text
    exchange = retry.json()
    assert exchange["message"]["id"] == stored_before[0] and len(stored_before) == 1
    assert [(m["role"], m["content"]) for m in history(server)] == [("user", "hello"), ("assistant", "reply to hello")]
    assert slow_agent.calls == 2  # asked again: its first answer never reached a live worker
    session = requests.get(f"{server.base_url}/api/v1/sessions/s1", timeout=TIMEOUT).json()
    assert session["message_count"] == 2 == row_counts(get_engine(database_url))[1]
    assert chat(server, "hello", key="turn-1").content == retry.content


def test_a_retry_storm_of_20_appends_with_one_key_stores_one_message(database_url, launch):
    server = launch(database_url)
    create_session(server)
    start = threading.Barrier(20)

    def append(_):
        start.wait()
        return requests.post(
            f"{server.base_url}/api/v1/sessions/s1/messages",
            json={"role": "user", "content": "tap"},
            headers={"Idempotency-Key": "append-storm"},
            timeout=TIMEOUT,
        )

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(append, range(20)))
    assert {r.status_code for r in responses} <= {201, 409}
    bodies = {r.content for r in responses if r.status_code == 201}
    assert len(bodies) == 1
    assert [m["content"] for m in history(server)] == ["tap"]
    assert row_counts(get_engine(database_url))[1] == 1
