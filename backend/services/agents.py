"""The pluggable agent that answers chat and voice messages: in-process callable, HTTP endpoint, or echo."""

from __future__ import annotations

import importlib
import json
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as TransportTimeout

from backend.services.turns.sse_reader import read_events
from backend.store.records import MessageRecord, SessionRecord, record_to_json


class AgentFailed(Exception):
    """The agent failed, timed out or answered something that is not a reply."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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


class HttpAgent:
    """An agent behind an HTTP endpoint: POST {session_id, history, message} -> JSON {reply, metadata?},
    or text/event-stream (events `delta` {"text"}, then an optional `done` {"metadata"})."""

    def __init__(self, url: str, timeout_s: float, max_connections: int = 256):
        self.url = url
        self.timeout_s = timeout_s
        # urllib3 itself, with kept-alive connections to the agent. A new TCP connection per turn cost
        # about as much CPU as the rest of the turn; requests' own per-call machinery on top of urllib3
        # cost about as much again (docs/performance.md, "Serving model").
        self.http = urllib3.PoolManager(
            maxsize=max_connections, retries=False, timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s)
        )

    def __call__(self, request: AgentRequest):
        """Ask the endpoint: an AgentReply, or a generator of text chunks for a streamed answer;
        AgentFailed on any transport error, error status or malformed answer."""
        body = {
            "session_id": request.session.session_id,
            "history": [record_to_json(m) for m in request.history],
            "message": record_to_json(request.message),
        }
        try:
            response = self.http.request(
                "POST",
                self.url,
                body=json.dumps(body, allow_nan=False).encode(),
                preload_content=False,
                headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
            )
        except HTTPError as exc:
            raise AgentFailed(_transport_failure(exc, self.timeout_s, "the agent could not be reached")) from None
        if response.status != 200:
            response.close()
            raise AgentFailed(f"the agent answered HTTP {response.status}")
        if response.headers.get("Content-Type", "").split(";")[0].strip() == "text/event-stream":
            return EventStreamReply(response)
        try:
            answer = json.loads(response.read())
        except (ValueError, HTTPError, OSError) as exc:
            response.close()  # not read to its end: the connection cannot be reused
            raise AgentFailed(_transport_failure(exc, self.timeout_s, "the agent's answer was cut off")) from None
        response.release_conn()
        return to_reply(answer)


_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends RST


class EventStreamReply:
    """An agent's streamed answer: iterates its text chunks; returns the `done` metadata when it ends.

    `cancel()` may be called from another thread (or greenlet) to stop a read that is waiting: it
    shuts the socket down, which is how the agent is told the client asked for no more.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse):
        self.response = response
        self._chunks = self._read()

    def __iter__(self):
        return self._chunks

    def cancel(self) -> None:
        """Stop reading: shut the connection to the agent down, both ways. An agent that reads hears the end of the
        request at once (a server watching for the client gone); and since the socket closes with a reset
        (linger 0), one that only writes fails at its next write, not at the one after (40 -> 20 ms with an agent
        writing every 20 ms)."""
        sock = getattr(self.response.connection, "sock", None)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
            sock.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: BLE001 - already closed, or a transport without a socket
            pass

    def _read(self):
        # A generator: closing it closes the HTTP stream.
        response = self.response
        try:
            for event, data in read_events(response):
                if event == "delta":
                    text = data.get("text") if isinstance(data, dict) else None
                    if not isinstance(text, str):
                        raise AgentFailed("the agent streamed a delta without text")
                    yield text
                elif event == "done":
                    metadata = (data.get("metadata") if isinstance(data, dict) else None) or {}
                    if not isinstance(metadata, dict):
                        raise AgentFailed("the agent's reply metadata is not an object")
                    return metadata
            return {}  # `done` is optional: the end of the stream ends the reply
        except (OSError, HTTPError, ValueError) as exc:
            raise AgentFailed(f"the agent's stream broke off ({type(exc).__name__})") from None
        finally:
            response.close()


def _transport_failure(exc: BaseException, timeout_s: float, otherwise: str) -> str:
    """Why an HTTP agent call failed; `otherwise` is what any other transport error means at this stage."""
    # urllib3 files a refused connection (NewConnectionError) under its timeouts.
    if isinstance(exc, TransportTimeout) and not isinstance(exc, NewConnectionError):
        return f"the agent did not answer within {timeout_s:g} s"
    if isinstance(exc, ValueError):
        return "the agent answered something that is not JSON"
    return f"{otherwise} ({type(exc).__name__})"


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


def load_agent(spec: str | None, url: str | None, timeout_s: float, max_calls: int = 256) -> Agent:
    """The agent the settings name: CHAT_AGENT='pkg.module:name', CHAT_AGENT_URL='http://...', else echo."""
    if spec and url:
        raise RuntimeError("set CHAT_AGENT or CHAT_AGENT_URL, not both")
    if url:
        if not url.startswith(("http://", "https://")):
            raise RuntimeError("CHAT_AGENT_URL must be an http:// or https:// URL")
        return HttpAgent(url, timeout_s, max_calls)
    if spec:
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise RuntimeError("CHAT_AGENT must look like 'package.module:name'")
        agent = getattr(importlib.import_module(module_name), attribute)
        if not callable(agent):
            raise RuntimeError(f"CHAT_AGENT {spec!r} is not callable")
        return agent
    return echo_agent
