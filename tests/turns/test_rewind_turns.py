"""Rewind against real gunicorn (2 workers) and a streaming loopback agent: refused while a turn runs on the
session, and regenerate (rewind, then a new turn) leaves the next agent only the history as it now is."""

from __future__ import annotations

import pytest
import requests

from tests.turns.sse_client import StreamedChat
from tests.turns.test_turns_server import count, history, open_session, wait_for

pytestmark = pytest.mark.slow


def rewind(server, after_message_id, session_id="s1", **headers):
    url = f"{server.base_url}/api/v1/sessions/{session_id}/rewind"
    return requests.post(url, json={"after_message_id": after_message_id}, headers=headers, timeout=10)


def test_a_rewind_while_a_turn_runs_is_409_then_regenerate_works(database_url, launch, agent):
    agent.chunks, agent.hold_after = ["first ", "reply"], 1
    server = launch(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream")
    open_session(server, "s1")
    chat = StreamedChat(server.base_url, {"session_id": "s1", "message": "hi"})
    events = iter(chat)
    user_message = next(events)[1]
    next(events)  # the agent is answering
    refused = rewind(server, user_message["id"])
    assert refused.status_code == 409 and "Retry-After" in refused.headers
    agent.release.set()
    assert [name for name, _, _ in events][-1] == "done"
    wait_for(lambda: count(server, "s1") == 2)
    done = rewind(server, user_message["id"], **{"Idempotency-Key": "regenerate-1"})
    assert done.status_code == 200 and done.json()["superseded"] == 1 and done.json()["message_count"] == 1
    assert [m["content"] for m in history(server, "s1")] == ["hi"]
    with_superseded = requests.get(f"{server.base_url}/api/v1/sessions/s1/messages?include=superseded", timeout=10)
    assert [(m["content"], m["superseded"]) for m in with_superseded.json()["messages"]] == [
        ("hi", False),
        ("first reply", True),
    ]
    assert rewind(server, user_message["id"], **{"Idempotency-Key": "regenerate-1"}).json() == done.json()
