"""Plain, immutable results of the service: safe to use after the transaction has ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session as stored; message_count NULL in a legacy row reads as 0."""

    session_id: str
    device_fingerprint: str | None
    created_at: datetime | None
    last_active: datetime | None
    message_count: int
    metadata: dict = field(default_factory=dict)
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class SessionSummary(SessionRecord):
    """A session as the listing shows it, with the start of its last message (None when it has none)."""

    last_message_preview: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message of a session."""

    id: int
    session_id: str
    role: str
    content: str
    timestamp: datetime | None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Counts and times of one session."""

    session_id: str
    message_count: int
    created_at: datetime | None
    last_active: datetime | None
    first_message_at: datetime | None
    last_message_at: datetime | None
    messages_by_role: dict[str, int]


@dataclass(frozen=True, slots=True)
class SessionPage:
    """One page of the listing; next_cursor is None on the last page."""

    sessions: list[SessionSummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages oldest first, within the count and byte budget; next_before is the `before` of the
    page before this one, None when none."""

    session_id: str
    messages: list[MessageRecord]
    next_before: int | None


@dataclass(frozen=True, slots=True)
class TurnStart:
    """What a turn's first write leaves for the agent: the session, the user's stored message and the
    messages before it, oldest first."""

    session: SessionRecord
    message: MessageRecord
    history: list[MessageRecord]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A request sent with an Idempotency-Key: in flight while status is None, then its stored outcome."""

    scope: str
    key: str
    request_hash: str
    holder: str | None
    held_until: datetime | None
    message_id: int | None
    status: int | None
    outcome: dict | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TurnLeaseRecord:
    """The turn in flight on a session: its holder's token and when the lease lapses."""

    session_id: str
    holder: str
    expires_at: datetime
