"""The pluggable agent that answers chat and voice messages: in-process callable, HTTP endpoint, or echo."""

from __future__ import annotations

import dataclasses
import importlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import requests

from backend.observability.metrics import record_agent_call
from backend.store.records import MessageRecord, SessionRecord


class AgentFailed(Exception):
    """The agent failed, timed out or answered something that is not a reply."""

    outcome = "failed"  # the agent_call outcome it is counted and logged as

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AgentTimedOut(AgentFailed):
    """The agent did not answer within its deadline."""

    outcome = "timeout"


class AgentRefused(AgentFailed):
    """The call was not made: too many earlier calls are still running in this process."""

    outcome = "refused"


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """What an agent is asked: the session, its recent history (oldest first) and the new message."""

    session: SessionRecord
    history: list[MessageRecord]
    message: MessageRecord


@dataclass(frozen=True, slots=True)
class AgentReply:
    """An agent's answer; metadata is stored with the reply."""

    text: str
    metadata: dict = field(default_factory=dict)


Agent = Callable[[AgentRequest], Any]


def echo_agent(request: AgentRequest) -> AgentReply:
    """The development default: answers with the user's own words."""
    return AgentReply(f"echo: {request.message.content}", {"agent": "echo"})


def record_json(record) -> dict:
    """A record as the HTTP agent receives it: every field, times in ISO 8601 with their offset."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in ((f.name, getattr(record, f.name)) for f in dataclasses.fields(record))
    }


class HttpAgent:
    """An agent behind an HTTP endpoint: POST {session_id, history, message} -> {reply, metadata?}."""

    def __init__(self, url: str, timeout_s: float):
        self.url = url
        self.timeout_s = timeout_s

    def __call__(self, request: AgentRequest) -> AgentReply:
        """Ask the endpoint; AgentFailed on any transport error, error status or malformed answer."""
        body = {
            "session_id": request.session.session_id,
            "history": [record_json(m) for m in request.history],
            "message": record_json(request.message),
        }
        try:
            response = requests.post(self.url, json=body, timeout=self.timeout_s)
        except requests.Timeout:
            raise AgentTimedOut(f"the agent did not answer within {self.timeout_s:g} s") from None
        except requests.RequestException as exc:
            raise AgentFailed(f"the agent could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise AgentFailed(f"the agent answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise AgentFailed("the agent answered something that is not JSON") from None
        return to_reply(answer)


def to_reply(answer: Any) -> AgentReply:
    """An AgentReply from what an agent returned: AgentReply, str, or {"reply": str, "metadata"?: dict}."""
    if isinstance(answer, AgentReply):
        text, metadata = answer.text, answer.metadata
    elif isinstance(answer, str):
        text, metadata = answer, {}
    elif isinstance(answer, dict):
        text, metadata = answer.get("reply"), answer.get("metadata") or {}
    else:
        raise AgentFailed("the agent's answer is not a reply")
    if not isinstance(text, str) or not text:
        raise AgentFailed("the agent's answer has no reply text")
    if not isinstance(metadata, dict):
        raise AgentFailed("the agent's reply metadata is not an object")
    return AgentReply(text, metadata)


# A hung in-process agent cannot be stopped: its thread is abandoned. Past this many still
# running in one process, calls fail at once instead of piling up threads without bound.
MAX_CALLS_RUNNING = 16
_running = 0
_running_lock = threading.Lock()


def call_agent(agent: Agent, request: AgentRequest, timeout_s: float) -> AgentReply:
    """Run the agent with a deadline; AgentFailed when it raises, hangs past the deadline or answers garbage."""
    started, outcome = time.perf_counter(), "failed"
    try:
        reply = _call_agent(agent, request, timeout_s)
        outcome = "ok"
        return reply
    except AgentFailed as exc:
        outcome = exc.outcome
        raise
    finally:
        record_agent_call(outcome, time.perf_counter() - started)


def _call_agent(agent: Agent, request: AgentRequest, timeout_s: float) -> AgentReply:
    global _running
    outcome: dict[str, Any] = {}
    with _running_lock:
        if _running >= MAX_CALLS_RUNNING:
            raise AgentRefused(f"the agent is not answering: {_running} earlier calls are still running")
        _running += 1

    def run() -> None:
        global _running
        try:
            outcome["answer"] = agent(request)
        except BaseException as exc:  # noqa: BLE001 - any failure of foreign code is the agent's failure
            outcome["error"] = exc
        finally:
            with _running_lock:
                _running -= 1

    # A daemon thread: a hung in-process agent cannot be stopped, but must not hold the request
    # or keep the process from exiting. The HTTP agent's own timeout ends its thread.
    worker = threading.Thread(target=run, name="agent-call", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise AgentTimedOut(f"the agent did not answer within {timeout_s:g} s")
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, AgentFailed):
            raise error
        raise AgentFailed(f"the agent failed ({type(error).__name__})") from error
    return to_reply(outcome["answer"])


def load_agent(spec: str | None, url: str | None, timeout_s: float) -> Agent:
    """The agent the settings name: CHAT_AGENT='pkg.module:name', CHAT_AGENT_URL='http://...', else echo."""
    if spec and url:
        raise RuntimeError("set CHAT_AGENT or CHAT_AGENT_URL, not both")
    if url:
        if not url.startswith(("http://", "https://")):
            raise RuntimeError("CHAT_AGENT_URL must be an http:// or https:// URL")
        return HttpAgent(url, timeout_s)
    if spec:
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise RuntimeError("CHAT_AGENT must look like 'package.module:name'")
        agent = getattr(importlib.import_module(module_name), attribute)
        if not callable(agent):
            raise RuntimeError(f"CHAT_AGENT {spec!r} is not callable")
        return agent
    return echo_agent
