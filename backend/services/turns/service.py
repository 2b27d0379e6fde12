"""Conversation turns: store the user's message, ask the agent outside any transaction, store its reply."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from backend import context
from backend.observability.logs import session_ref
from backend.observability.metrics import record_turn
from backend.services.agents import Agent, AgentRequest
from backend.services.errors import AgentsBusy
from backend.services.idempotency import request_hash
from backend.services.session import SessionService
from backend.services.turns.agent_call import AgentCall, AgentGate, log_agent_call
from backend.services.turns.following import ReplayedTurn
from backend.services.turns.guard import TurnGuard
from backend.services.turns.journal import TurnJournal
from backend.services.turns.stream import StreamedTurn
from backend.services.turns.writes import ErrorBody, open_turn
from backend.services.validation import (
    Problems,
    check_audio,
    check_metadata,
    check_new_message,
)
from backend.store.records import MessageRecord, NewMessage, record_from_json
from backend.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def _let_others_run() -> None:
    # Under gevent, SQLite calls never yield: a burst of turns would each run all their steps
    # before a health check queued behind them got a turn. time.sleep(0) is gevent's yield there
    # (and a GIL yield under threads), so the worker's other requests interleave with the burst.
    time.sleep(0)


def log_turn_refused(session_id: str, request_id: str | None) -> None:
    """The one line of a turn refused at capacity (nothing was stored)."""
    record_turn("refused")
    log.warning(
        "turn outcome=refused session_id=%s request_id=%s reason=at capacity", session_ref(session_id), request_id
    )


def new_turn_id() -> str:
    """An unguessable turn id: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def plain_error_body(error: Exception) -> dict:
    """An `error` event's data where no web layer says how errors read (its message only)."""
    return {"code": 500, "status": "Internal Server Error", "message": str(error)}


@dataclass(frozen=True, slots=True)
class ChatExchange:
    """The user's stored message and the agent's stored reply, and the turn they belong to."""

    session_id: str
    message: MessageRecord
    reply: MessageRecord
    turn_id: str | None = None  # None: a turn stored under its key before turns had ids


def exchange_from_json(outcome: dict) -> ChatExchange:
    """The exchange a finished turn stored under its idempotency key."""
    return record_from_json(ChatExchange, outcome, nested={"message": MessageRecord, "reply": MessageRecord})


class ChatService:
    """Conversation turns over SessionService and an agent; knows nothing of HTTP.

    `owner` scopes a turn as it scopes SessionService. A turn holds its session's lease (one turn at a
    time: TurnInProgress) and, with an idempotency key, the key (a repeat replays the first outcome,
    RequestInFlight while it still runs).
    """

    def __init__(
        self,
        sessions: SessionService,
        agent: Agent,
        *,
        timeout_s: float = 30.0,
        history_limit: int = 20,
        lease_s: float = 5.0,
        max_agent_calls: int = 256,
        error_body: ErrorBody = plain_error_body,
        journal_uow: UnitOfWork | None = None,
    ):
        self.sessions = sessions
        self.agent = agent
        self.timeout_s = timeout_s
        self.history_limit = history_limit
        self.gate = AgentGate(max_agent_calls)
        self.error_body = error_body
        # A running turn renews its lease (journal); one whose worker died frees its session after lease_s.
        self.guard = TurnGuard(sessions.uow, sessions.keys, lease_s=lease_s)
        # `journal_uow`: connections of the journal's own, so that its writes (every running turn's events and
        # lease) never queue behind the turns' own transactions for a connection of theirs.
        self.journal = TurnJournal(journal_uow or sessions.uow, lease_s=lease_s)

    def chat(
        self,
        session_id: str,
        text: str,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> ChatExchange:
        """One text turn; AgentFailed when the agent fails (the user's message, and any partial reply, stay stored)."""
        return self._complete(
            self.chat_stream(session_id, text, metadata, owner=owner, idempotency_key=idempotency_key)
        )

    def voice(
        self,
        session_id: str,
        transcript: str,
        audio: dict | None = None,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> ChatExchange:
        """One voice turn: as chat, both messages marked modality=voice, the user's with its audio details."""
        turn = self.voice_stream(session_id, transcript, audio, metadata, owner=owner, idempotency_key=idempotency_key)
        return self._complete(turn)

    def chat_stream(
        self,
        session_id: str,
        text: str,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> StreamedTurn | ReplayedTurn:
        """Start a text turn: the user's message is stored and the agent asked; AgentsBusy (nothing stored) at
        capacity."""
        return self._begin(session_id, text, metadata, {}, owner, idempotency_key)

    def voice_stream(
        self,
        session_id: str,
        transcript: str,
        audio: dict | None = None,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> StreamedTurn | ReplayedTurn:
        """Start a voice turn, as chat_stream with the voice marks."""
        problems = Problems()
        check_audio(problems, audio, self.sessions.limits)
        check_metadata(problems, metadata, self.sessions.limits)
        problems.raise_if_any()
        marks = {"modality": "voice"}
        user_marks = {**marks, "audio": audio} if audio is not None else marks
        return self._begin(session_id, transcript, {**(metadata or {}), **user_marks}, marks, owner, idempotency_key)

    @staticmethod
    def _complete(turn: StreamedTurn | ReplayedTurn) -> ChatExchange:
        for _ in turn.follow():
            pass
        if turn.failure is not None:
            raise turn.failure
        return ChatExchange(turn.session_id, turn.message, turn.reply, turn.turn_id)

    def _begin(
        self,
        session_id: str,
        text: str,
        metadata: dict | None,
        reply_marks: dict,
        owner: str | None,
        idempotency_key: str | None,
    ) -> StreamedTurn | ReplayedTurn:
        # The slot is taken before anything is stored: a refused turn leaves no orphan message and
        # can simply be retried. Then one write takes the turn's lease, stores the user's message and
        # reads what the agent needs (each round trip counts at a few hundred turns at once); none is
        # open while the agent thinks (a slow agent must not hold a lock, SQLite has one writer, or a
        # pooled connection).
        new = NewMessage(session_id, "user", text, metadata)
        check_new_message(new, self.sessions.limits, idempotency_key)
        request_id = context.request_id.get()
        slot = self.gate.try_acquire(time.monotonic() + self.timeout_s)
        if slot is None:
            log_agent_call(
                "refused",
                session_id,
                f"all {self.gate.limit} agent calls of this worker are in use",
                request_id=request_id,
            )
            log_turn_refused(session_id, request_id)
            raise AgentsBusy(self.gate.limit)
        fingerprint = request_hash("turn", new=new, reply_marks=reply_marks)
        guarding = self.guard.begin(session_id, idempotency_key, fingerprint, owner=owner)
        try:
            guard = guarding.__enter__()  # RequestInFlight, IdempotencyKeyReused
        except BaseException:
            self.gate.release(slot)
            raise
        if guard.replay is not None:
            self.gate.release(slot)
            guarding.__exit__(None, None, None)
            exchange = exchange_from_json(guard.replay)
            return ReplayedTurn(exchange.session_id, exchange.turn_id, exchange.message, exchange.reply)
        turn_id = new_turn_id()
        try:
            start = open_turn(
                self.sessions.uow,
                self.sessions.limits,
                new,
                guard,
                turn_id=turn_id,
                history_limit=self.history_limit,
                owner=owner,
            )  # TurnInProgress, SessionNotFound
        except BaseException as exc:
            self.gate.release(slot)
            guarding.__exit__(type(exc), exc, exc.__traceback__)
            raise
        _let_others_run()
        request = AgentRequest(start.session, start.history, start.message)
        call = AgentCall(self.agent, request, self.gate, slot, time.monotonic() + self.timeout_s, self.timeout_s)
        return StreamedTurn(
            self.sessions.uow,
            self.sessions.limits,
            start.message,
            turn_id,
            call,
            reply_marks,
            guard,
            guarding,
            owner=owner,
            journal=self.journal,
            error_body=self.error_body,
            request_id=request_id,
        )
