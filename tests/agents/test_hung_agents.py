"""In-process agents that hang: each call ends at its deadline, and stuck threads stay bounded."""

import threading
import time
from datetime import datetime, timezone

import pytest

from backend.services import agents
from backend.services.agents import AgentFailed, AgentRequest, call_agent
from backend.store.records import MessageRecord, SessionRecord

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
REQUEST = AgentRequest(
    SessionRecord("s1", None, NOW, NOW, 1, {}), [], MessageRecord(1, "s1", "user", "hello", NOW, {})
)


def test_hung_calls_stop_piling_up_threads_and_calls_work_again_once_they_end(monkeypatch):
    monkeypatch.setattr(agents, "MAX_CALLS_RUNNING", 3)
    release = threading.Event()
    hanging = lambda request: release.wait(30) and "late"  # noqa: E731
    threads_before = threading.active_count()
    for _ in range(3):
        with pytest.raises(AgentFailed, match="did not answer"):
            call_agent(hanging, REQUEST, 0.05)
    started = time.monotonic()
    with pytest.raises(AgentFailed, match="3 earlier calls are still running"):
        call_agent(hanging, REQUEST, 5)
    assert time.monotonic() - started < 1  # refused at once, not after the deadline
    assert threading.active_count() - threads_before == 3
    release.set()
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert call_agent(lambda request: "back", REQUEST, 5).text == "back"
