"""A turn's records: how it started, its row, its events and its state as a client sees it. Plain and immutable,
as every record of the store (backend.store.records)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from backend.store.records import MessageRecord, SessionRecord


@dataclass(frozen=True, slots=True)
class TurnStart:
    """What a turn's first write leaves for the agent: the session, the user's stored message and the
    messages before it, oldest first."""

    session: SessionRecord
    message: MessageRecord
    history: list[MessageRecord]


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """A turn as stored: its state, its messages' ids, a stop asked of it."""

    turn_id: str
    session_id: str
    status: str
    user_message_id: int
    reply_message_id: int | None
    stop_requested: bool
    heard_chars: int | None
    created_at: datetime | None
    ended_at: datetime | None


def event_json(data: dict) -> str:
    """An event's data as its stream sends it and the journal keeps it: compact JSON, non-ASCII as it is."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """One event of a turn's stream: `id` (the SSE id, increasing within the turn), its name, its data, and that
    data as JSON text (`data_json`), made once: the journal keeps it and every follower's frame sends it."""

    id: int
    event: str
    data: dict
    data_json: str

    @classmethod
    def of(cls, id: int, event: str, data: dict) -> TurnEvent:
        """A new event, its JSON text made from `data`."""
        return cls(id, event, data, event_json(data))

    @classmethod
    def kept(cls, id: int, event: str, data_json: str) -> TurnEvent:
        """An event as the journal kept it."""
        return cls(id, event, json.loads(data_json), data_json)


@dataclass(frozen=True, slots=True)
class TurnState:
    """A turn as a client sees it: running|completed|interrupted|failed, the user's message, the stored reply."""

    turn_id: str
    session_id: str
    status: str
    user_message: MessageRecord | None
    reply: MessageRecord | None


@dataclass(frozen=True, slots=True)
class TurnLeaseRecord:
    """The turn in flight on a session: its holder's token and when the lease lapses."""

    session_id: str
    holder: str
    expires_at: datetime
