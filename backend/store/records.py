"""Plain, immutable results of the service: safe to use after the transaction has ended."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

R = TypeVar("R")


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
class NewSession:
    """A session to create: travels whole from the caller to the store (and into an idempotency key's hash)."""

    session_id: str
    metadata: dict | None = None
    device_fingerprint: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to append, as a caller gives it: travels whole from the schema through the service into the
    store and into an idempotency key's hash, so a field added here cannot be forgotten on the way."""

    session_id: str
    role: str
    content: str
    metadata: dict | None = None


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
class SummaryRecord:
    """A summary of a session's messages up to and including `covers_through`."""

    id: int
    session_id: str
    content: str
    covers_through: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ContextWindow:
    """What an agent sends its model: the newest messages that fit `max_tokens`, oldest first, with the summary
    of what came before them (counted first); `tokens` in all; `truncated` when older messages were left out."""

    session_id: str
    messages: list[MessageRecord]
    summary: SummaryRecord | None
    tokens: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class Rewound:
    """What a rewind did: the messages after `after_message_id` superseded, and the history's count now."""

    session_id: str
    after_message_id: int
    superseded: int
    message_count: int


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """One term of a search: a word, or the words of a phrase in order; `excluded` for a term to leave out."""

    words: tuple[str, ...]
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What a search finds: a message matching every term of any one group (groups are joined by OR)."""

    groups: tuple[tuple[SearchTerm, ...], ...]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message found by a search, with `snippet`: its text around the matches, each match between the
    store's MARK_START and MARK_END characters."""

    message: MessageRecord
    snippet: str


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages oldest first, within the count and byte budget; next_before is the `before` of the
    page before this one, None when none."""

    session_id: str
    messages: list[MessageRecord]
    next_before: int | None
    superseded: frozenset[int] = frozenset()  # with include=superseded: the ids of the superseded ones


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


def record_to_json(record: Any) -> dict:
    """A record (or a dataclass of records) as JSON values, as a key stores it; times as ISO 8601 with offset."""
    result = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if dataclasses.is_dataclass(value):
            value = record_to_json(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        result[f.name] = value
    return result


def record_from_json(record_type: type[R], data: dict, nested: dict[str, type] | None = None) -> R:
    """The record record_to_json made `data` from (a replay returns the very records of the first request);
    `nested` names fields holding records."""
    values = {}
    for f in dataclasses.fields(record_type):
        value = data.get(f.name)
        if nested and f.name in nested and value is not None:
            value = record_from_json(nested[f.name], value)
        elif value is not None and "datetime" in str(f.type):
            value = datetime.fromisoformat(value)
        values[f.name] = value
    return record_type(**values)
