"""One turn streamed: the agent's chunks as they come, and what was said kept however the turn ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from backend.observability.logs import session_ref
from backend.observability.metrics import record_turn, record_turn_in_flight
from backend.services.agents import AgentFailed
from backend.services.errors import InvalidInput
from backend.services.session import SessionService
from backend.services.turns.agent_call import END, AgentCall, AgentTimeout, log_agent_call
from backend.services.turns.guard import Turn
from backend.services.turns.writes import store_reply
from backend.store.records import MessageRecord, NewMessage, record_to_json

log = logging.getLogger(__name__)

# How often a silent agent's turn looks whether its client is still there.
CLIENT_CHECK_S = 0.2


def log_turn_refused(session_id: str, request_id: str | None) -> None:
    """The one line of a turn refused at capacity (nothing was stored)."""
    record_turn("refused")
    log.warning(
        "turn outcome=refused session_id=%s request_id=%s reason=at capacity", session_ref(session_id), request_id
    )


class ReplayedTurn:
    """A turn finished earlier under the same Idempotency-Key: its stored exchange, again, with no new effect."""

    def __init__(self, session_id: str, message: MessageRecord, reply: MessageRecord):
        self.session_id, self.message, self.reply = session_id, message, reply
        self.outcome = "completed"

    def events(self, client_gone: Callable[[], bool] | None = None) -> Iterator[tuple[str, Any]]:
        """Only ("done", reply): a replay streams as the stored message and one done event."""
        yield "done", self.reply

    def close(self) -> None:
        """Nothing is held."""


def never_gone() -> bool:
    """For callers that cannot tell whether their client left."""
    return False


class StreamedTurn:
    """A turn whose user message is stored and whose agent call is running.

    `events()` yields ("delta", text) per chunk, then ("done", reply) or ("error", exception). A chunk
    counts as said once the consumer comes back for more (a WSGI server asks for the next frame only
    after writing the previous one). However the turn ends, what was said is stored: complete with no
    status, or partial with metadata status "interrupted" (the client left) or "failed" (the agent
    failed or passed its deadline); an empty partial stores nothing. Each store is its own short
    transaction; none is open while the agent or the client is waited on.
    """

    def __init__(
        self,
        sessions: SessionService,
        message: MessageRecord,
        call: AgentCall,
        reply_marks: dict,
        request_id: str | None,
        guard: Turn,
        guarding,
        owner: str | None = None,
    ):
        self.sessions = sessions
        self._guard, self._guarding, self._owner = guard, guarding, owner  # the lease and key (turn_guard)
        self.session_id = message.session_id
        self.message = message
        self.reply: MessageRecord | None = None
        self.outcome: str | None = None  # completed | interrupted | failed, once the turn has ended
        self._call = call
        self._marks = reply_marks
        self._request_id = request_id
        self._said: list[str] = []
        self._started = call.deadline - call.timeout_s  # when the agent was asked
        record_turn_in_flight(1)

    def events(self, client_gone: Callable[[], bool] = never_gone) -> Iterator[tuple[str, Any]]:
        """The turn's events; closing this generator early counts as the client leaving."""
        # A caller that cannot tell whether its client left waits for the agent without waking up.
        wait_s = CLIENT_CHECK_S if client_gone is not never_gone else self._call.timeout_s
        try:
            while True:
                try:
                    chunk = self._call.next_chunk(wait_s)
                except AgentFailed as failure:
                    yield "error", self._fail(failure)
                    return
                if chunk is END:
                    try:
                        yield "done", self._complete()
                    except (AgentFailed, InvalidInput) as failure:
                        yield "error", failure
                    return
                if client_gone():
                    return  # the finally below stores what was said
                if chunk is not None:
                    yield "delta", chunk
                    self._said.append(chunk)
        finally:
            self.close()

    def close(self) -> None:
        """End the turn here if it has not ended: the client left. Asks the agent for no more."""
        if self.outcome is not None:
            return
        self._call.close()
        self._store_partial("interrupted")
        log_agent_call(
            "ok",
            self.session_id,
            "the client left",
            level=logging.INFO,
            request_id=self._request_id,
            duration_ms=self._elapsed_ms(),
        )
        self._log_turn("interrupted")

    def _complete(self) -> MessageRecord:
        text = "".join(self._said)
        if not text:
            self._finish_failed(AgentFailed("the agent's answer has no reply text"))
            raise AgentFailed("the agent's answer has no reply text")

        # The outcome is stored under the turn's key in the reply's own transaction.
        def outcome(reply: MessageRecord) -> dict:
            return {
                "session_id": self.session_id,
                "message": record_to_json(self.message),
                "reply": record_to_json(reply),
            }

        reply = NewMessage(self.session_id, "assistant", text, {**self._call.metadata, **self._marks})
        try:
            self.reply = store_reply(
                self.sessions.uow, self.sessions.limits, reply, self._guard, outcome, owner=self._owner
            )
        except InvalidInput as exc:
            # The client's request was fine; the agent's answer is what the store refused.
            failure = AgentFailed(f"the agent's reply was refused: {exc}")
            self._finish_failed(failure)
            raise failure from None
        except BaseException:
            self.outcome = "failed"
            self._log_turn("failed")
            raise
        log_agent_call(
            "ok", self.session_id, level=logging.INFO, request_id=self._request_id, duration_ms=self._elapsed_ms()
        )
        self.outcome = "completed"
        self._log_turn("completed")
        return self.reply

    def _fail(self, failure: AgentFailed) -> AgentFailed:
        self._call.close()
        self._store_partial("failed")
        self._finish_failed(failure)
        return failure

    def _finish_failed(self, failure: AgentFailed) -> None:
        outcome = "timeout" if isinstance(failure, AgentTimeout) else "failed"
        log_agent_call(
            outcome, self.session_id, failure.reason, request_id=self._request_id, duration_ms=self._elapsed_ms()
        )
        self.outcome = "failed"
        self._log_turn("failed")

    def _store_partial(self, status: str) -> None:
        self.outcome = status
        text = "".join(self._said)
        if not text:
            return
        try:
            partial = NewMessage(
                self.session_id, "assistant", text, {**self._call.metadata, **self._marks, "status": status}
            )
            self.reply = self.sessions.append(partial, owner=self._owner)
        except Exception as exc:  # noqa: BLE001 - the turn is ending anyway; say why the partial is lost
            log.warning(
                "turn partial_lost session_id=%s request_id=%s reason=%s",
                session_ref(self.session_id),
                self._request_id,
                type(exc).__name__,
            )

    def _log_turn(self, outcome: str) -> None:
        # The turn has ended, however: its lease (and its key, unless finished) go back.
        record_turn(outcome)
        record_turn_in_flight(-1)
        self._guarding.__exit__(None, None, None)
        level = logging.INFO if outcome in ("completed", "interrupted") else logging.WARNING
        log.log(
            level,
            "turn outcome=%s session_id=%s request_id=%s chunks=%d chars=%d duration_ms=%.1f",
            outcome,
            session_ref(self.session_id),
            self._request_id,
            len(self._said),
            sum(map(len, self._said)),
            self._elapsed_ms(),
        )

    def _elapsed_ms(self) -> float:
        return round((time.monotonic() - self._started) * 1000, 1)
