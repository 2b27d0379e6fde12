"""OpenAI Agents SDK session over the session store: `StoreSession(session_id)` (needs the `openai-agents` extra).

Each input item is one stored message. A message item's text goes in `content` (readable by every
other client) and the rest of the item under the metadata key "openai_agents", so it reads back as
the same item; a reasoning item as the marker "[reasoning]" with metadata "kind": "reasoning" and the item
whole under that key (never shown as what the assistant said); any other item (tool calls, their outputs) is
stored whole as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from agents.memory import SessionABC
from agents.memory.session_settings import SessionSettings, coerce_session_settings, resolve_session_limit

from backend.adapters.history import alast_readable, append_batch, default_service, readable, to_its_outcome
from backend.services.async_session import AsyncSessionService, async_service_for
from backend.services.errors import SessionNotFound
from backend.services.session import SessionService
from backend.store.records import MessageRecord

METADATA_KEY = "openai_agents"
REASONING_CONTENT = "[reasoning]"
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
_ITEM_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "assistant"}


def _role(item: dict) -> str:
    if item.get("role") in _ROLES:
        return _ROLES[item["role"]]
    return "tool" if str(item.get("type", "")).endswith("_output") else "assistant"


def to_stored(item: dict) -> tuple[str, str, dict]:
    """(role, content, metadata) for one input item."""
    if item.get("type") == "reasoning":
        # The model's reasoning was never said to the user: a marker as its content, the item whole in metadata,
        # and "kind" that a REST client (or a context reader) tells it apart by.
        return "assistant", REASONING_CONTENT, {METADATA_KEY: {"item": item, "text_in": "item"}, "kind": "reasoning"}
    rest, role, content = dict(item), _role(item), item.get("content")
    if isinstance(content, str) and content:
        del rest["content"]
        return role, content, {METADATA_KEY: {"item": rest, "text_in": "content"}}
    if isinstance(content, list) and len(content) == 1 and isinstance(content[0], dict):
        part = dict(content[0])
        text = part.pop("text", None)
        if isinstance(text, str) and text:
            rest["content"] = [part]
            return role, text, {METADATA_KEY: {"item": rest, "text_in": "content[0].text"}}
    return role, json.dumps(item, ensure_ascii=False), {METADATA_KEY: {"text_in": None}}


def from_stored(record: MessageRecord) -> dict:
    """The input item a stored message holds; one stored by another client becomes an easy input message."""
    stored = record.metadata.get(METADATA_KEY)
    if not isinstance(stored, dict):
        return {"role": _ITEM_ROLES.get(record.role, "user"), "content": record.content}
    if stored.get("text_in") == "content":
        return {**stored["item"], "content": record.content}
    if stored.get("text_in") == "item":
        return stored["item"]
    if stored.get("text_in") == "content[0].text":
        item = dict(stored["item"])
        item["content"] = [{**item["content"][0], "text": record.content}]
        return item
    return json.loads(record.content)


class StoreSession(SessionABC):
    """The SDK's Session protocol (get_items, add_items, pop_item, clear_session) for one stored session."""

    def __init__(
        self,
        session_id: str,
        service: SessionService | AsyncSessionService | None = None,
        *,
        session_settings: SessionSettings | dict[str, Any] | None = None,
    ):
        self.session_id = session_id
        # As the SDK's own sessions: a dict is coerced, and None is the default SessionSettings().
        self.session_settings = (
            coerce_session_settings(session_settings) if session_settings is not None else SessionSettings()
        )
        self.service = (
            service if isinstance(service, AsyncSessionService) else async_service_for(service or default_service())
        )
        self._opened = False

    async def get_items(self, limit: int | None = None) -> list[Any]:
        """The newest `limit` items (all when None and no session_settings limit, or when negative, as the SDK's
        SQLiteSession), oldest first; a stored row that cannot be read is skipped with a warning naming its id."""
        limit = resolve_session_limit(limit, self.session_settings)
        if limit is not None and limit < 0:
            limit = None
        return await alast_readable(self.service, self.session_id, limit, from_stored)

    async def add_items(self, items: list[Any]) -> None:
        """Append the items in order as one batch (one transaction: all or none); the session is created on the
        first write."""
        await to_its_outcome(self.service.run_sync(self._add_items, items))

    def _add_items(self, service: SessionService, items: list[Any]) -> None:
        if not self._opened:
            service.get_or_create_session(self.session_id)
            self._opened = True
        append_batch(service, self.session_id, [to_stored(item) for item in items])

    async def pop_item(self) -> Any | None:
        """Remove and return the newest item; None when there is none. A newest row that cannot be read is never
        removed: it stays, with a warning naming its id, and None is answered."""
        try:
            popping = self.service.pop_last_message(
                self.session_id, accept=lambda r: bool(readable([r], from_stored)[0])
            )
            record = await to_its_outcome(popping)
        except SessionNotFound:
            return None
        return None if record is None else from_stored(record)

    async def clear_session(self) -> None:
        """Delete every item; the session itself stays."""
        try:
            await to_its_outcome(self.service.clear_history(self.session_id))
        except SessionNotFound:
            pass  # nothing stored yet: nothing to clear
