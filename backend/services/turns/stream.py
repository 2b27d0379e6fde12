"""One turn running: its runner asks the agent and stores what was said however the turn ends; any number of
followers read its events as they happen. A follower that leaves does not end the turn."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterator

from backend.observability.logs import session_ref
from backend.observability.metrics import record_turn, record_turn_in_flight
from backend.services.agents import AgentFailed
from backend.services.errors import InvalidInput, SessionStoreError
from backend.services.turns.agent_call import END, AgentCall, AgentTimeout, log_agent_call
from backend.services.turns.following import follow_events, never_gone
from backend.services.turns.guard import Turn
from backend.services.turns.journal import TurnJournal
from backend.services.turns.writes import Ending, ErrorBody, end_turn, message_event
from backend.services.validation import check_new_message
from backend.settings import Limits
from backend.store.records import MessageRecord, NewMessage, record_to_json
from backend.store.turn_records import TurnEvent
from backend.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class StreamedTurn:
    """A turn whose user message is stored and whose agent call is running in a runner of its own.

    Events: `message`, `delta` per chunk, then `done` (the stored reply) or `error`. However the turn ends,
    what was generated is stored: complete with no status; stopped (`request_stop`) with the part the user
    heard as content, status "interrupted" and the rest as "unheard"; or with status "failed" when the agent
    failed. Each store is one short transaction; none is open while the agent or a client is waited on.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        limits: Limits,
        message: MessageRecord,
        turn_id: str,
        call: AgentCall,
        reply_marks: dict,
        guard: Turn,
        guarding,
        *,
        owner: str | None,
        journal: TurnJournal,
        error_body: ErrorBody,
        request_id: str | None,
    ):
        self.uow, self.limits, self.journal, self.error_body = uow, limits, journal, error_body
        self.session_id, self.turn_id, self.message = message.session_id, turn_id, message
        self.reply: MessageRecord | None = None
        self.failure: Exception | None = None
        self.outcome: str | None = None  # completed | interrupted | failed, once the turn has ended
        self.events = [TurnEvent.of(1, "message", message_event(message, turn_id))]  # kept by its first write
        self._changed = threading.Condition()
        self._guard, self._guarding, self._owner = guard, guarding, owner
        self._call, self._marks, self._request_id = call, reply_marks, request_id
        self._said: list[str] = []
        self._stop: tuple[int | None] | None = None  # (heard_chars,) once a stop is asked
        self._started = call.deadline - call.timeout_s
        record_turn_in_flight(1)
        journal.start(self)
        runner = threading.Thread(target=contextvars.copy_context().run, args=(self._run,), name="turn", daemon=True)
        runner.start()

    # -- followers, stops and the journal -------------------------------------------------------------

    def follow(self, after: int = 0, client_gone=never_gone, on_disconnect: str = "continue") -> Iterator[TurnEvent]:
        """The turn's events after `after`, live. With on_disconnect "stop", a follower that leaves before the end
        stops the turn, the user having heard what it took (the barge-in of a voice client)."""
        heard, finished = 0, False
        try:
            for event in follow_events(
                self.events, self._changed, lambda: self.outcome is not None, after, client_gone
            ):
                yield event
                heard += len(event.data["text"]) if event.event == "delta" else 0
                finished = event.event in ("done", "error")
        finally:
            if not finished and on_disconnect == "stop":
                self.request_stop(heard)

    def request_stop(self, heard_chars: int | None) -> None:
        """Stop the turn: the agent is asked for no more, the reply stored as heard (None: all generated)."""
        if self._stop is None and self.outcome is None:
            self._stop = (heard_chars,)
            self._call.wake()

    def wait(self, timeout_s: float) -> bool:
        """Wait for the turn to end; whether it has."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self.outcome is None and time.monotonic() < deadline:
                self._changed.wait(min(0.05, timeout_s))
        return self.outcome is not None

    def held(self):
        """The lease and idempotency reservation this turn holds (for the journal's heartbeat)."""
        lease, claim = self._guard.lease, self._guard.claim
        return (
            None if lease is None else (lease.session_id, lease.token),
            None if claim is None or self._guard.finished else (claim.scope, claim.key, claim.token),
        )

    def _emit(self, event: str, data: dict) -> None:
        with self._changed:
            kept = TurnEvent.of(len(self.events) + 1, event, data)
            self.events.append(kept)
            self._changed.notify_all()
        self.journal.record(self.turn_id, kept.id, event, kept.data_json)

    # -- the runner -------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._stop is None:
                try:
                    chunk = self._call.next_chunk(self._call.timeout_s)
                except AgentFailed as failure:
                    return self._fail(failure)
                if chunk is END:
                    return self._complete()
                if chunk:
                    self._said.append(chunk)
                    self._emit("delta", {"text": chunk})
            self._call.close()
            self._stopped(self._stop[0])
        except Exception as exc:  # noqa: BLE001 - the turn's last write failed: nothing more is stored
            if self.outcome is None:
                log.warning(
                    "turn ending_lost session_id=%s request_id=%s reason=%s",
                    session_ref(self.session_id),
                    self._request_id,
                    type(exc).__name__,
                    exc_info=not isinstance(exc, SessionStoreError),
                )
                self._end_in_memory("failed", exc)

    def _reply(self, text: str, **marks) -> NewMessage:
        return NewMessage(self.session_id, "assistant", text, {**self._call.metadata, **self._marks, **marks})

    def _complete(self) -> None:
        text = "".join(self._said)
        try:
            if not text:
                raise AgentFailed("the agent's answer has no reply text")
            check_new_message(self._reply(text), self.limits)
        except (AgentFailed, InvalidInput) as exc:
            # The client's request was fine; the agent's answer is what the store refused.
            failure = exc if isinstance(exc, AgentFailed) else AgentFailed(f"the agent's reply was refused: {exc}")
            return self._end("failed", None, failure)
        self._end("completed", self._reply(text))

    def _stopped(self, heard_chars: int | None) -> None:
        text = "".join(self._said)
        cut = len(text) if heard_chars is None else min(heard_chars, len(text))
        reply = None
        if cut:  # nothing heard: no reply in the history (what was generated stays in the turn's events)
            check_new_message(self._reply(text, status="interrupted"), self.limits)
            unheard = {"unheard": text[cut:]} if text[cut:] else {}
            reply = self._reply(text[:cut], status="interrupted", **unheard)
        self._end("interrupted", reply)

    def _fail(self, failure: AgentFailed) -> None:
        self._call.close()
        reply = self._reply("".join(self._said), status="failed")
        try:
            check_new_message(reply, self.limits)
        except InvalidInput:
            reply = None  # nothing said, or nothing storable: the turn fails with no reply
        self._end("failed", reply, failure)

    def _end(self, status: str, reply: NewMessage | None, failure: AgentFailed | None = None) -> None:
        with self._changed:
            last_seq = len(self.events) + 1
        # With a reply, the lease goes back and the outcome is kept under the key in the last write; without one
        # the key is released after, so that a retry asks the agent again.
        keeps_key = failure is None and reply is not None
        ending = Ending(
            self.turn_id,
            status,
            reply,
            last_seq,
            self.journal.take(self.turn_id),
            "error" if failure else "done",
            keeps_key,
        )

        def outcome(stored):
            message = record_to_json(self.message)
            return {
                "session_id": self.session_id,
                "turn_id": self.turn_id,
                "message": message,
                "reply": record_to_json(stored),
            }

        def last_data(stored):
            if failure:
                return self.error_body(failure)
            return None if stored is None else record_to_json(stored)  # stopped before anything was heard

        try:
            self.reply, data = end_turn(
                self.uow, ending, self._guard, last_data=last_data, outcome=outcome, owner=self._owner
            )
        except SessionStoreError as exc:
            self._end_in_memory("failed", exc)
            raise
        if failure is None:
            self._log_call("ok", "stopped" if status == "interrupted" else "", logging.INFO)
        else:
            self._log_call("timeout" if isinstance(failure, AgentTimeout) else "failed", failure.reason)
        self._finish(status, ending.last_event, data, failure)

    def _log_call(self, outcome: str, reason: str = "", level: int = logging.WARNING) -> None:
        log_agent_call(
            outcome, self.session_id, reason, level=level, request_id=self._request_id, duration_ms=self._elapsed_ms()
        )

    def _end_in_memory(self, status: str, failure: Exception) -> None:
        # The last write failed: followers here learn why; other workers' followers see the turn end when the
        # next turn on the session ends it as abandoned.
        self._finish(status, "error", self.error_body(failure), failure)

    def _finish(self, status: str, event: str, data: dict, failure: Exception | None) -> None:
        # The lease and the key go back first (the key unless finished): a client that sees the end may retry at once.
        self.journal.finish(self.turn_id)
        self._guarding.__exit__(None, None, None)
        record_turn(status)
        record_turn_in_flight(-1)
        level = logging.INFO if status in ("completed", "interrupted") else logging.WARNING
        figures = (len(self._said), sum(map(len, self._said)), self._elapsed_ms())
        log.log(level, "turn outcome=%s session_id=%s request_id=%s chunks=%d chars=%d duration_ms=%.1f", status,
                session_ref(self.session_id), self._request_id, *figures)  # fmt: skip
        self.failure = failure
        with self._changed:
            self.events.append(TurnEvent.of(len(self.events) + 1, event, data))
            self.outcome = status
            self._changed.notify_all()

    def _elapsed_ms(self) -> float:
        return round((time.monotonic() - self._started) * 1000, 1)
