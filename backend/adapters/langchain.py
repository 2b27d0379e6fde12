"""LangChain chat history over the session store: `SessionChatMessageHistory(session_id)` (needs the `langchain` extra).

Each message is one stored message: human -> user, ai -> assistant, system -> system, tool and function ->
tool, and a ChatMessage by its own role (user unless it names another); a chunk (AIMessageChunk, as
RunnableWithMessageHistory stores a streamed reply) is stored as its full class. Its text goes in `content`,
every other field of the LangChain message (ids, tool calls, kwargs, ...) under the metadata key "langchain",
so it reads back as the same message. Reads are bounded: the newest `limit` readable messages, not the whole
history; a row that cannot be read is skipped with a warning naming its id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from backend.adapters import needs_extra

with needs_extra("langchain", "langchain_core"):
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import BaseMessage, message_chunk_to_message, messages_from_dict

from backend.adapters.history import alast_readable, append_batch, default_service, last_readable, to_its_outcome
from backend.services.async_session import AsyncSessionService, async_service_for
from backend.services.errors import SessionNotFound
from backend.services.session import SessionService
from backend.store.records import MessageRecord

ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
# A message stored by another client reads as the LangChain message of its role.
BY_ROLE = {"user": "human", "assistant": "ai", "system": "system", "tool": "tool"}
# A ChatMessage's free-form role, when it names one of ours.
CHAT_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant", "system": "system"}
METADATA_KEY = "langchain"


def _role(message: BaseMessage) -> str:
    if message.type == "chat":
        return CHAT_ROLES.get(str(getattr(message, "role", "")).lower(), "user")
    return ROLES.get(message.type, "user")


def to_stored(message: BaseMessage) -> tuple[str, str, dict]:
    """(role, content, metadata) for one LangChain message (a chunk as its full class)."""
    message = message_chunk_to_message(message)
    fields = message.model_dump(exclude_defaults=True, exclude={"content", "type"})
    content = message.content
    if isinstance(content, str) and content:
        text = content
    else:
        # Empty text (an AI message that only calls tools) or a list of content blocks: the
        # store wants non-empty text, so the exact content is kept as JSON and marked so.
        text, fields["content_json"] = json.dumps(content, ensure_ascii=False), True
    return _role(message), text, {METADATA_KEY: {"type": message.type, **fields}}


def from_stored(record: MessageRecord) -> BaseMessage:
    """The LangChain message a stored message holds; one stored by another client reads by its role."""
    fields = dict(record.metadata.get(METADATA_KEY) or {})
    kind = fields.pop("type", None) or BY_ROLE.get(record.role, "human")
    content: Any = json.loads(record.content) if fields.pop("content_json", False) else record.content
    if kind == "tool":
        fields.setdefault("tool_call_id", "")
    return messages_from_dict([{"type": kind, "data": {**fields, "content": content}}])[0]


def _whole_exchanges(messages: list[BaseMessage]) -> list[BaseMessage]:
    """`messages` without the tool results at its start: their call was cut off by the window."""
    start = 0
    while start < len(messages) and messages[start].type == "tool":
        start += 1
    return messages[start:]


class SessionChatMessageHistory(BaseChatMessageHistory):
    """A BaseChatMessageHistory (sync and async) for one session; the session is created on the first write."""

    def __init__(
        self,
        session_id: str,
        service: SessionService | AsyncSessionService | None = None,
        *,
        limit: int | None = 50,
    ):
        self.session_id = session_id
        self.limit = limit
        sync = service.sync if isinstance(service, AsyncSessionService) else service
        self.service = sync if sync is not None else default_service()
        self.async_service = service if isinstance(service, AsyncSessionService) else None
        self._opened = False

    def _async(self) -> AsyncSessionService:
        if self.async_service is None:
            self.async_service = async_service_for(self.service)
        return self.async_service

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The newest `limit` messages (all when limit is None), oldest first, never starting on a ToolMessage
        whose calling AIMessage the window left out (a model refuses a tool result without its call)."""
        return _whole_exchanges(last_readable(self.service, self.session_id, self.limit, from_stored))

    async def aget_messages(self) -> list[BaseMessage]:
        """As messages, without blocking the event loop."""
        return _whole_exchanges(await alast_readable(self._async(), self.session_id, self.limit, from_stored))

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append the messages, in order, as one batch (one transaction: all or none)."""
        if not self._opened:
            self.service.get_or_create_session(self.session_id)
            self._opened = True
        append_batch(self.service, self.session_id, [to_stored(message) for message in messages])

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """As add_messages, without blocking the event loop."""
        await to_its_outcome(self._async().run_sync(lambda _service: self.add_messages(messages)))

    def clear(self) -> None:
        """Delete the session's messages; the session itself stays."""
        try:
            self.service.clear_history(self.session_id)
        except SessionNotFound:
            pass  # nothing stored yet: nothing to clear

    async def aclear(self) -> None:
        """As clear, without blocking the event loop."""
        await to_its_outcome(self._async().run_sync(lambda _service: self.clear()))
