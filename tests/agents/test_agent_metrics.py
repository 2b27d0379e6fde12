"""Agent calls and turns are counted by outcome, in the words the logs use (ok, failed, timeout, refused; completed, failed)."""

import threading

import pytest
from prometheus_client import REGISTRY

from backend.services import agents
from backend.services.agents import AgentFailed, AgentRefused, AgentTimedOut, call_agent
from backend.services.chat import ChatService
from tests.agents.test_hung_agents import REQUEST


def _count(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _calls():
    return {o: _count("session_store_agent_calls_total", outcome=o) for o in ("ok", "failed", "timeout", "refused")}


def test_each_agent_call_is_counted_once_under_its_outcome(monkeypatch):
    monkeypatch.setattr(agents, "MAX_CALLS_RUNNING", 1)
    before = _calls()
    timed_before = _count("session_store_agent_call_duration_seconds_count", outcome="timeout")
    release = threading.Event()
    call_agent(lambda request: "fine", REQUEST, 5)
    with pytest.raises(AgentFailed):
        call_agent(lambda request: 1 / 0, REQUEST, 5)
    with pytest.raises(AgentTimedOut):
        call_agent(lambda request: release.wait(30) and "late", REQUEST, 0.05)
    with pytest.raises(AgentRefused):  # the hung call above still holds the only slot
        call_agent(lambda request: "never asked", REQUEST, 5)
    release.set()
    after = _calls()
    assert {o: after[o] - before[o] for o in after} == {"ok": 1, "failed": 1, "timeout": 1, "refused": 1}
    assert _count("session_store_agent_call_duration_seconds_count", outcome="timeout") - timed_before == 1
    assert _count("session_store_agent_call_duration_seconds_sum", outcome="timeout") >= 0.05


def test_turns_are_counted_completed_or_failed_and_none_stays_in_flight(service):
    service.get_or_create_session("t1")
    completed = _count("session_store_turns_total", outcome="completed")
    failed = _count("session_store_turns_total", outcome="failed")
    ChatService(service, lambda request: "hello").chat("t1", "hi")
    with pytest.raises(AgentFailed):
        ChatService(service, lambda request: "").chat("t1", "hi")  # an empty reply is a failed agent
    assert _count("session_store_turns_total", outcome="completed") - completed == 1
    assert _count("session_store_turns_total", outcome="failed") - failed == 1
    assert _count("session_store_turns_in_flight") == 0
