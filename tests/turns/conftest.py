"""Fixtures of the turn tests: apps over the test's database, real gunicorn servers, a real streaming agent."""

from __future__ import annotations

import pytest

from backend.services.turns.sse_reader import parse_event
from tests.api.conftest import make_app, stored  # noqa: F401 - fixtures shared with the API tests
from tests.fakes.slow_agent import SlowAgent
from tests.fakes.streaming_agent import StreamingAgent

SSE = {"Accept": "text/event-stream"}


def frames(response):
    """The (event, data) pairs of a streamed test-client response, read one frame at a time."""
    for chunk in response.response:
        yield parse_event(chunk.decode().strip("\n"))


@pytest.fixture
def turn_client(make_app):  # noqa: F811 - make_app is the API tests' fixture
    """An app whose CHAT_AGENT is tests.fakes.agents:<agent>, with session s1 created."""

    def make(agent, **settings):
        client = make_app(CHAT_AGENT=f"tests.fakes.agents:{agent}", **settings).test_client()
        client.post("/api/v1/sessions", json={"session_id": "s1"})
        return client

    return make


@pytest.fixture
def agent():
    """A real HTTP agent on loopback (stopped at teardown)."""
    server = StreamingAgent()
    yield server
    server.close()


@pytest.fixture
def slow_agent():
    """A real HTTP agent on loopback; set .delay_s, or .hang_first to hang its first call until released."""
    agent = SlowAgent()
    yield agent
    agent.close()
