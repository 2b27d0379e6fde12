"""Conversation turns: store the user's message, ask the agent outside any transaction, store its reply."""

from __future__ import annotations

import time
from dataclasses import dataclass

from backend import context
from backend.services.agent_calls import AgentCall, AgentGate, log_agent_call
from backend.services.agents import Agent, AgentRequest
from backend.services.errors import AgentsBusy
from backend.services.session import SessionService
from backend.services.turns import StreamedTurn, log_turn_refused
from backend.services.validation import Problems, check_audio, check_metadata
from backend.store.records import MessageRecord


def _let_others_run() -> None:
    # Under gevent, SQLite calls never yield: a burst of turns would each run all their steps
    # before a health check queued behind them got a turn. time.sleep(0) is gevent's yield there
    # (and a GIL yield under threads), so the worker's other requests interleave with the burst.
    time.sleep(0)


@dataclass(frozen=True, slots=True)
class ChatExchange:
    """The user's stored message and the agent's stored reply."""

    session_id: str
    message: MessageRecord
    reply: MessageRecord


class ChatService:
    """Conversation turns over SessionService and an agent; knows nothing of HTTP."""

    def __init__(self, sessions: SessionService, agent: Agent, *, timeout_s: float = 30.0, history_limit: int = 20,
                 max_agent_calls: int = 256):
        self.sessions = sessions
        self.agent = agent
        self.timeout_s = timeout_s
        self.history_limit = history_limit
        self.gate = AgentGate(max_agent_calls)

    def chat(self, session_id: str, text: str, metadata: dict | None = None) -> ChatExchange:
        """One text turn; AgentFailed when the agent fails (the user's message, and any partial reply, stay stored)."""
        return self._complete(self.chat_stream(session_id, text, metadata))

    def voice(self, session_id: str, transcript: str, audio: dict | None = None, metadata: dict | None = None) -> ChatExchange:
        """One voice turn: as chat, both messages marked modality=voice, the user's with its audio details."""
        return self._complete(self.voice_stream(session_id, transcript, audio, metadata))

    def chat_stream(self, session_id: str, text: str, metadata: dict | None = None) -> StreamedTurn:
        """Start a text turn: the user's message is stored and the agent asked; AgentsBusy (nothing stored) at capacity."""
        return self._begin(session_id, text, metadata, {})

    def voice_stream(self, session_id: str, transcript: str, audio: dict | None = None,
                     metadata: dict | None = None) -> StreamedTurn:
        """Start a voice turn, as chat_stream with the voice marks."""
        problems = Problems()
        check_audio(problems, audio, self.sessions.limits)
        check_metadata(problems, metadata, self.sessions.limits)
        problems.raise_if_any()
        marks = {"modality": "voice"}
        user_marks = {**marks, "audio": audio} if audio is not None else marks
        return self._begin(session_id, transcript, {**(metadata or {}), **user_marks}, marks)

    @staticmethod
    def _complete(turn: StreamedTurn) -> ChatExchange:
        for kind, value in turn.events():
            if kind == "error":
                raise value
        return ChatExchange(turn.session_id, turn.message, turn.reply)

    def _begin(self, session_id: str, text: str, metadata: dict | None, reply_marks: dict) -> StreamedTurn:
        # The slot is taken before anything is stored: a refused turn leaves no orphan message
        # and can simply be retried. Three short transactions follow, none open while the agent
        # thinks: a slow agent must not hold a database lock (SQLite has one writer) or a connection.
        request_id = context.request_id.get()
        slot = self.gate.try_acquire(time.monotonic() + self.timeout_s)
        if slot is None:
            log_agent_call("refused", session_id, f"all {self.gate.limit} agent calls of this worker are in use",
                           request_id=request_id)
            log_turn_refused(session_id, request_id)
            raise AgentsBusy(self.gate.limit)
        try:
            message = self.sessions.add_message(session_id, "user", text, metadata)
            _let_others_run()
            history = []
            if self.history_limit > 0:
                history = self.sessions.get_chat_history(session_id, limit=self.history_limit, before=message.id)
            _let_others_run()
            request = AgentRequest(self.sessions.get_session(session_id), history, message)
        except BaseException:
            self.gate.release(slot)
            raise
        call = AgentCall(self.agent, request, self.gate, slot, time.monotonic() + self.timeout_s, self.timeout_s)
        return StreamedTurn(self.sessions, message, call, reply_marks, request_id)

