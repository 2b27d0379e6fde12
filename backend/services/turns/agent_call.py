"""Running agent calls: a per-process cap on concurrent calls, a deadline on each, chunks handed over as produced."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from backend import context
from backend.observability.logs import session_ref
from backend.observability.metrics import record_agent_call
from backend.services.agents import Agent, AgentFailed, AgentReply, AgentRequest, to_reply

log = logging.getLogger(__name__)


class AgentTimeout(AgentFailed):
    """The agent did not answer (or go on answering) within its deadline."""


class AgentGate:
    """At most `limit` agent calls of this process at once; a call holds its slot until the agent really stops."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._deadlines: dict[int, float] = {}  # slot id -> deadline (monotonic) of each running call
        self._next = 0

    def try_acquire(self, deadline: float) -> int | None:
        """A slot id, or None when `limit` calls are running."""
        with self._lock:
            if len(self._deadlines) >= self.limit:
                return None
            self._next += 1
            self._deadlines[self._next] = deadline
            return self._next

    def release(self, slot: int) -> None:
        """The call in `slot` has ended (returned, raised or been closed)."""
        with self._lock:
            self._deadlines.pop(slot, None)

    def running(self) -> int:
        """How many calls hold a slot now."""
        return len(self._deadlines)

    def hung(self) -> int:
        """How many calls still hold a slot past their deadline (an in-process agent that cannot be stopped)."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for deadline in self._deadlines.values() if deadline < now)


def log_agent_call(
    outcome: str,
    session_id: str,
    reason: str = "",
    *,
    level: int = logging.WARNING,
    request_id: str | None = None,
    **extra,
) -> None:
    """One line per agent call: event agent_call, outcome ok|failed|timeout|refused, session and request ids,
    then any figures, then the reason (free text, last so that it may hold spaces)."""
    record_agent_call(outcome, extra.get("duration_ms", 0) / 1000)
    details = "".join(f" {name}={value}" for name, value in extra.items())
    log.log(
        level,
        "agent_call outcome=%s session_id=%s request_id=%s%s reason=%s",
        outcome,
        session_ref(session_id),
        request_id or context.request_id.get(),
        details,
        reason or "-",
    )


END = object()  # next_chunk's answer once the reply is complete


class AgentCall:
    """One call to an agent, run by a producer thread (a greenlet under gevent) that holds the gate's slot.

    The consumer takes chunks with `next_chunk()`, each within what is left of the deadline. `close()` asks
    the agent for no more: a generator is closed once it yields again, an HTTP stream once it sends again.
    """

    def __init__(
        self, agent: Agent, request: AgentRequest, gate: AgentGate, slot: int, deadline: float, timeout_s: float
    ):
        self.request = request
        self.metadata: dict = {}
        self.deadline = deadline
        self.timeout_s = timeout_s
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._cancel = None  # a streamed answer's way to stop a read that waits (HTTP: shut the socket)
        self._gate, self._slot = gate, slot
        # A daemon thread: a hung in-process agent cannot be stopped, but must not keep the process
        # from exiting. It holds its slot until it ends, so hung calls use up capacity visibly.
        self._producer = threading.Thread(target=self._produce, args=(agent,), name="agent-call", daemon=True)
        self._producer.start()

    def _produce(self, agent: Agent) -> None:
        try:
            answer = agent(self.request)
            if isinstance(answer, (AgentReply, str, dict)):
                reply = to_reply(answer)
                self._queue.put(("chunk", reply.text))
                self._queue.put(("done", reply.metadata))
                return
            if not hasattr(answer, "__iter__"):
                raise AgentFailed("the agent's answer is not a reply")
            self._cancel = getattr(answer, "cancel", None)
            if self._stop.is_set() and self._cancel is not None:
                self._cancel()  # closed while the agent was still starting its answer
            self._queue.put(("done", self._produce_stream(iter(answer))))
        except BaseException as exc:  # noqa: BLE001 - any failure of foreign code is the agent's failure
            self._queue.put(("error", exc))
        finally:
            self._gate.release(self._slot)

    def _produce_stream(self, stream: Iterator) -> dict:
        # The generator is driven here, in the producer: a generator cannot be closed from another
        # thread while it runs, so the stop request is honoured between two of its chunks.
        try:
            while not self._stop.is_set():
                try:
                    chunk = next(stream)
                except StopIteration as end:
                    metadata = end.value if end.value is not None else {}
                    if not isinstance(metadata, dict):
                        raise AgentFailed("the agent's reply metadata is not an object") from None
                    return metadata
                if not isinstance(chunk, str):
                    raise AgentFailed("the agent streamed something that is not text")
                if chunk:
                    self._queue.put(("chunk", chunk))
            return {}
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def next_chunk(self, wait_s: float) -> Any:
        """The next chunk, waiting at most `wait_s` (then None); END when the reply is complete."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.close()
            raise AgentTimeout(f"the agent did not answer within {self.timeout_s:g} s")
        try:
            kind, value = self._queue.get(timeout=min(wait_s, remaining))
        except queue.Empty:
            return None
        if kind == "chunk":
            return value
        if kind == "wake":
            return None
        if kind == "done":
            self.metadata = value
            return END
        raise _as_failure(value)

    def wake(self) -> None:
        """Make a waiting next_chunk return None now (a stop was asked of the turn)."""
        self._queue.put(("wake", None))

    def close(self) -> None:
        """Ask the agent for no more chunks; the slot is freed when the producer ends."""
        self._stop.set()
        if self._cancel is not None:
            self._cancel()


def _as_failure(error: BaseException) -> AgentFailed:
    if isinstance(error, AgentFailed):
        return error
    failure = AgentFailed(f"the agent failed ({type(error).__name__})")
    failure.__cause__ = error
    return failure
