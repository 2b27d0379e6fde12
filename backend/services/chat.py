"""A chat turn: store the user's message, ask the agent outside any transaction, store its reply."""

from __future__ import annotations

from dataclasses import dataclass

from backend.observability.metrics import record_turn, turn_in_flight
from backend.services.agents import Agent, AgentFailed, AgentRequest, call_agent
from backend.services.errors import InvalidInput
from backend.services.outcomes import record_from_json, record_to_json, request_hash
from backend.services.turn_guard import TurnGuard
from backend.store.records import MessageRecord
from backend.services.session import SessionService
from backend.services.validation import (
    Problems, check_audio, check_content, check_idempotency_key, check_lookup_id, check_metadata,
)


@dataclass(frozen=True, slots=True)
class ChatExchange:
    """The user's stored message and the agent's stored reply."""

    session_id: str
    message: MessageRecord
    reply: MessageRecord


def exchange_from_json(outcome: dict) -> ChatExchange:
    """The exchange a finished turn stored under its idempotency key."""
    return record_from_json(ChatExchange, outcome, nested={"message": MessageRecord, "reply": MessageRecord})


class ChatService:
    """Conversation turns over SessionService and an agent; knows nothing of HTTP."""

    def __init__(self, sessions: SessionService, agent: Agent, *, timeout_s: float = 30.0, history_limit: int = 20,
                 lease_margin_s: float = 10.0):
        self.sessions = sessions
        self.agent = agent
        self.timeout_s = timeout_s
        self.history_limit = history_limit
        # A turn whose worker died holds its session for at most the agent timeout plus the margin.
        self.guard = TurnGuard(sessions.engine, sessions.keys, lease_s=timeout_s + lease_margin_s)

    def chat(self, session_id: str, text: str, metadata: dict | None = None,
             *, owner: str | None = None, idempotency_key: str | None = None) -> ChatExchange:
        """One text turn; AgentFailed (the user's message stays stored) when the agent fails; `owner` scopes it.

        TurnInProgress while another turn runs on the session. With an idempotency key, a repeat
        returns the first turn's exchange (RequestInFlight while it still runs).
        """
        return self._turn(session_id, text, metadata, {}, owner, idempotency_key)

    def voice(self, session_id: str, transcript: str, audio: dict | None = None, metadata: dict | None = None,
              *, owner: str | None = None, idempotency_key: str | None = None) -> ChatExchange:
        """One voice turn: as chat, both messages marked modality=voice, the user's with its audio details."""
        problems = Problems()
        check_audio(problems, audio, self.sessions.limits)
        check_metadata(problems, metadata, self.sessions.limits)
        problems.raise_if_any()
        marks = {"modality": "voice"}
        user_marks = {**marks, "audio": audio} if audio is not None else marks
        return self._turn(session_id, transcript, {**(metadata or {}), **user_marks}, marks, owner, idempotency_key)

    def _turn(self, session_id: str, text: str, metadata: dict | None, reply_marks: dict,
              owner: str | None = None, idempotency_key: str | None = None) -> ChatExchange:
        with turn_in_flight():
            try:
                exchange = self._serve_turn(session_id, text, metadata, reply_marks, owner, idempotency_key)
            except AgentFailed as exc:
                record_turn("refused" if exc.outcome == "refused" else "failed")
                raise
        record_turn("completed")
        return exchange

    def _serve_turn(self, session_id: str, text: str, metadata: dict | None, reply_marks: dict,
                    owner: str | None, idempotency_key: str | None) -> ChatExchange:
        # Short transactions, none open while the agent thinks: a slow agent must not hold a
        # database lock (SQLite has one writer) or a pooled connection. The turn's lease and key
        # are rows taken and given back in transactions of their own.
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_content(problems, text, self.sessions.limits)
        check_metadata(problems, metadata, self.sessions.limits)
        check_idempotency_key(problems, idempotency_key)
        problems.raise_if_any()  # before any lease is taken
        if owner is not None:
            # Before the lease: another owner must get 404, never a 409 telling that a turn runs there.
            self.sessions.get_session(session_id, owner=owner)
        fingerprint = request_hash("turn", session_id=session_id, text=text, metadata=metadata, reply_marks=reply_marks)
        with self.guard.begin(session_id, idempotency_key, fingerprint, owner=owner) as turn:
            if turn.replay is not None:
                return exchange_from_json(turn.replay)
            message = turn.stored_message(self.sessions) or \
                self.sessions.append_with(session_id, "user", text, metadata, turn.note_message, owner=owner)
            history = []
            if self.history_limit > 0:
                history = self.sessions.get_chat_history(session_id, limit=self.history_limit, before=message.id, owner=owner)
            request = AgentRequest(self.sessions.get_session(session_id, owner=owner), history, message)
            answer = call_agent(self.agent, request, self.timeout_s)
            try:
                reply = self.sessions.append_with(
                    session_id, "assistant", answer.text, {**answer.metadata, **reply_marks},
                    lambda tx, reply: turn.finish(tx, record_to_json(ChatExchange(session_id, message, reply))),
                    owner=owner,
                )
            except InvalidInput as exc:
                # The client's request was fine; the agent's answer is what the store refused.
                raise AgentFailed(f"the agent's reply was refused: {exc}") from None
            return ChatExchange(session_id, message, reply)
