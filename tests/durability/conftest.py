"""Fixtures of the durability tests: real gunicorn servers that always stop, and a slow loopback agent."""

from __future__ import annotations

import pytest

from tests.durability.agent import SlowAgent
from tests.servers import Server


@pytest.fixture
def launch(tmp_path):
    """Start gunicorn servers on a migrated database; every one is stopped at teardown."""
    started: list[Server] = []

    def start(database_url: str, *, name: str = "server", **options) -> Server:
        server = Server(database_url, tmp_path / f"{name}-{len(started)}.log", **options)
        started.append(server)
        return server.start(timeout_s=60)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def slow_agent():
    """A real HTTP agent on loopback; set .delay_s, or .hang_first to hang its first call until released."""
    agent = SlowAgent()
    yield agent
    agent.close()
