"""A chat turn: store the user's message, ask the agent outside any transaction, store its reply."""

from __future__ import annotations

from dataclasses import dataclass

from backend.observability.metrics import record_turn, turn_in_flight
from backend.services.agents import Agent, AgentFailed, AgentRequest, call_agent
from backend.services.errors import InvalidInput
from backend.store.records import MessageRecord
from backend.services.session import SessionService
from backend.services.validation import Problems, check_audio, check_metadata


@dataclass(frozen=True, slots=True)
class ChatExchange:
    """The user's stored message and the agent's stored reply."""

    session_id: str
    message: MessageRecord
    reply: MessageRecord


class ChatService:
    """Conversation turns over SessionService and an agent; knows nothing of HTTP."""

    def __init__(self, sessions: SessionService, agent: Agent, *, timeout_s: float = 30.0, history_limit: int = 20):
        self.sessions = sessions
        self.agent = agent
        self.timeout_s = timeout_s
        self.history_limit = history_limit

    def chat(self, session_id: str, text: str, metadata: dict | None = None) -> ChatExchange:
        """One text turn; AgentFailed (the user's message stays stored) when the agent fails."""
        return self._turn(session_id, text, metadata, {})

    def voice(self, session_id: str, transcript: str, audio: dict | None = None, metadata: dict | None = None) -> ChatExchange:
        """One voice turn: as chat, both messages marked modality=voice, the user's with its audio details."""
        problems = Problems()
        check_audio(problems, audio, self.sessions.limits)
        check_metadata(problems, metadata, self.sessions.limits)
        problems.raise_if_any()
        marks = {"modality": "voice"}
        user_marks = {**marks, "audio": audio} if audio is not None else marks
        return self._turn(session_id, transcript, {**(metadata or {}), **user_marks}, marks)

    def _turn(self, session_id: str, text: str, metadata: dict | None, reply_marks: dict) -> ChatExchange:
        with turn_in_flight():
            try:
                exchange = self._serve_turn(session_id, text, metadata, reply_marks)
            except AgentFailed as exc:
                record_turn("refused" if exc.outcome == "refused" else "failed")
                raise
        record_turn("completed")
        return exchange

    def _serve_turn(self, session_id: str, text: str, metadata: dict | None, reply_marks: dict) -> ChatExchange:
        # Three short transactions, none open while the agent thinks: a slow agent must not
        # hold a database lock (SQLite has one writer) or a pooled connection.
        message = self.sessions.add_message(session_id, "user", text, metadata)
        history = []
        if self.history_limit > 0:
            history = self.sessions.get_chat_history(session_id, limit=self.history_limit, before=message.id)
        request = AgentRequest(self.sessions.get_session(session_id), history, message)
        answer = call_agent(self.agent, request, self.timeout_s)
        try:
            reply = self.sessions.add_message(session_id, "assistant", answer.text, {**answer.metadata, **reply_marks})
        except InvalidInput as exc:
            # The client's request was fine; the agent's answer is what the store refused.
            raise AgentFailed(f"the agent's reply was refused: {exc}") from None
        return ChatExchange(session_id, message, reply)
