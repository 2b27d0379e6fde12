"""In-process agents that hang: each call ends at its deadline, and hung calls hold their slots visibly."""

import threading
import time
from datetime import UTC, datetime

import pytest

from backend.services.agents import AgentFailed, AgentRequest
from backend.services.turns.agent_call import AgentGate
from backend.store.records import MessageRecord, SessionRecord
from tests.fakes.calls import call_agent

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST = AgentRequest(SessionRecord("s1", None, NOW, NOW, 1, {}), [], MessageRecord(1, "s1", "user", "hello", NOW, {}))


def test_hung_calls_hold_their_slots_so_further_calls_are_refused_at_once_until_they_end():
    gate = AgentGate(3)
    release = threading.Event()
    hanging = lambda request: release.wait(30) and "late"  # noqa: E731
    threads_before = threading.active_count()
    for _ in range(3):
        with pytest.raises(AgentFailed, match="did not answer"):
            call_agent(hanging, REQUEST, 0.05, gate)
    assert (gate.running(), gate.hung()) == (3, 3)
    started = time.monotonic()
    with pytest.raises(AgentFailed, match="all 3 agent calls are in use"):
        call_agent(hanging, REQUEST, 5, gate)
    assert time.monotonic() - started < 1  # refused at once, not after the deadline
    assert threading.active_count() - threads_before == 3
    release.set()
    deadline = time.monotonic() + 10
    while gate.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (gate.running(), gate.hung()) == (0, 0)
    assert call_agent(lambda request: "back", REQUEST, 5, gate).text == "back"
