"""OpenAI Agents SDK session over the session store: `StoreSession(session_id)` (needs the `openai-agents` extra).

Each input item is one stored message. A message item's text goes in `content` (readable by every
other client) and the rest of the item under the metadata key "openai_agents", so it reads back as
the same item; a reasoning or compaction item as the marker "[reasoning]" or "[compaction]" with metadata "kind"
naming it and the item whole under that key (never shown as what the assistant said); any other item (tool
calls, their outputs) is stored whole as JSON text.

Compaction (the SDK's OpenAIResponsesCompactionSession wrapped around a StoreSession) goes through the two hooks
that session looks for, `_get_compaction_snapshot` and `_atomic_replace_items`: the replaced items are superseded
as by a rewind, never deleted, and their replacement is appended in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from backend.adapters import needs_extra

with needs_extra("openai-agents", "agents"):
    from agents.memory import SessionABC
    from agents.memory.session import _CompactionSnapshot
    from agents.memory.session_settings import SessionSettings, coerce_session_settings, resolve_session_limit

from backend.adapters.history import (
    alast_readable,
    append_batch,
    default_service,
    last_messages,
    readable,
    to_its_outcome,
)
from backend.services.async_session import AsyncSessionService, async_service_for
from backend.services.errors import SessionNotFound
from backend.services.session import SessionService
from backend.store.records import MessageRecord

METADATA_KEY = "openai_agents"
REASONING_CONTENT = "[reasoning]"
# Items that are not something the assistant said, stored as a marker and told apart by the metadata "kind": the
# model's reasoning, and a compaction's (encrypted) summary of the conversation before it.
MARKERS = {"reasoning": REASONING_CONTENT, "compaction": "[compaction]"}
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
_ITEM_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "assistant"}


def _role(item: dict) -> str:
    if item.get("role") in _ROLES:
        return _ROLES[item["role"]]
    return "tool" if str(item.get("type", "")).endswith("_output") else "assistant"


def to_stored(item: dict) -> tuple[str, str, dict]:
    """(role, content, metadata) for one input item."""
    kind = item.get("type")
    if kind in MARKERS:
        # Never said to the user: a marker as its content, the item whole in metadata, and "kind" that a REST
        # client (or a context reader) tells it apart by.
        return "assistant", MARKERS[kind], {METADATA_KEY: {"item": item, "text_in": "item"}, "kind": kind}
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
        self._open(service)
        append_batch(service, self.session_id, [to_stored(item) for item in items])

    def _open(self, service: SessionService) -> None:
        """The session is created on the first write."""
        if not self._opened:
            service.get_or_create_session(self.session_id)
            self._opened = True

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

    # -- compaction: the hooks OpenAIResponsesCompactionSession looks for (openai-agents 0.24) ----------------

    async def _get_compaction_snapshot(
        self, limit: int, *, prune_prefix: Callable[[Any], bool] | None = None
    ) -> _CompactionSnapshot | None:
        """The newest `limit` items, whether they are the whole history, and `replace_suffix(start, output)`: in one
        transaction, when items[start:] are still the newest stored, supersede them and append `output` (True);
        else change nothing (False). With `prune_prefix` (an EncryptedSession's expiry), the oldest items before
        them are superseded while it is true of them. None when a row of the snapshot cannot be read, or for a
        subclass that changes how items are stored (see _stores_items_as_is)."""
        if not self._stores_items_as_is():
            return None
        records = await self.service.run_sync(last_messages, self.session_id, limit + 1)
        complete, records = len(records) <= limit, records[-limit:]
        items, unreadable = readable(records, from_stored)
        if unreadable:
            return None
        retire = None if prune_prefix is None else _retiring(prune_prefix)

        async def replace_suffix(start: int, output: list[Any]) -> bool:
            if not records[start:]:
                return False
            messages = [_message(item) for item in output]
            replacing = self.service.replace_history(
                self.session_id, messages, replacing=records[start:], retire_prefix=retire
            )
            return await to_its_outcome(replacing) is not None

        return _CompactionSnapshot(items, complete, replace_suffix)

    async def _atomic_replace_items(self, items: list[Any]) -> bool:
        """The whole history replaced by `items` in one transaction (manual compaction, run_compaction): the old
        items superseded, never deleted. Without this hook the SDK would clear_session (a delete) and add_items.
        False (the SDK then does just that) for a subclass that changes how items are stored."""
        if not self._stores_items_as_is():
            return False
        await to_its_outcome(self.service.run_sync(self._replace_all, items))
        return True

    def _stores_items_as_is(self) -> bool:
        # As the SDK's own stores: a subclass may transform items in get_items or add_items (encrypt, redact), and
        # these hooks, which read and write beside them, must not bypass that. Such a subclass supplies its own.
        cls = type(self)
        return cls.get_items is StoreSession.get_items and cls.add_items is StoreSession.add_items

    def _replace_all(self, service: SessionService, items: list[Any]) -> None:
        self._open(service)
        service.replace_history(self.session_id, [_message(item) for item in items])


def _message(item: Any) -> dict:
    role, content, metadata = to_stored(item)
    return {"role": role, "content": content, "metadata": metadata}


def _retiring(prune_prefix: Callable[[Any], bool]) -> Callable[[MessageRecord], bool]:
    """prune_prefix over stored messages: a message it cannot judge (unreadable, or it raises) stays, and with it
    every later one, as in the SDK's own stores."""

    def retire(record: MessageRecord) -> bool:
        try:
            return bool(prune_prefix(from_stored(record)))
        except Exception:  # noqa: BLE001 - an unreadable row or whatever the predicate raises: keep it
            return False

    return retire
