"""Agent calls and turns are counted by outcome, in the words the logs use (ok, failed, timeout, refused; completed,
failed)."""

import threading

import pytest
from prometheus_client import REGISTRY

from backend.services.agents import AgentFailed
from backend.services.errors import AgentsBusy
from backend.services.turns.service import ChatService


def _count(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _calls():
    return {o: _count("session_store_agent_calls_total", outcome=o) for o in ("ok", "failed", "timeout", "refused")}


def test_each_agent_call_is_counted_once_under_its_outcome(service):
    service.get_or_create_session("c1")
    before = _calls()
    timed_before = _count("session_store_agent_call_duration_seconds_count", outcome="timeout")
    release = threading.Event()
    ChatService(service, lambda request: "fine").chat("c1", "hi")
    with pytest.raises(AgentFailed):
        ChatService(service, lambda request: 1 / 0).chat("c1", "hi")
    hung = ChatService(service, lambda request: release.wait(30) and "late", timeout_s=0.05, max_agent_calls=1)
    with pytest.raises(AgentFailed):  # past its deadline: a timeout
        hung.chat("c1", "hi")
    with pytest.raises(AgentsBusy):  # the hung call above still holds the only slot: refused
        hung.chat("c1", "hi")
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
