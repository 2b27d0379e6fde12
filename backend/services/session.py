"""SessionService: every operation on sessions and their messages, one short transaction each."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from backend.db import engine_for, read_transaction, write_transaction
from backend.models.types import parse_metadata, parse_timestamp, stored_timestamp
from backend.services import driver
from backend.services import queries as q
from backend.services.driver import driver_transaction, message_values
from backend.services.errors import SessionNotFound
from backend.services.cursors import decode_listing_cursor, encode_cursor
from backend.services.records import MessageRecord, SessionPage, SessionRecord, SessionStats
from backend.services.validation import (
    Problems,
    check_content,
    check_fingerprint,
    check_lookup_id,
    check_metadata,
    check_new_session_id,
    check_positive_int,
    check_role,
)
from config.settings import Config, Limits

_UNSET: Any = object()
MAX_ROW_ID = 2**63 - 1


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_session_id() -> str:
    """An unguessable id: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def _session_record(row) -> SessionRecord:
    return SessionRecord(row[0], row[1], row[2], row[3], row[4] or 0, row[5])


class SessionService:
    """Sessions and their messages; usable with or without Flask."""

    def __init__(self, url_or_engine: str | sa.Engine | None = None, *, limits: Limits | None = None):
        if url_or_engine is None:
            config = Config()
            url_or_engine, limits = config.DATABASE_URL, limits or config.LIMITS
        self.engine = engine_for(url_or_engine)
        self.limits = limits or Limits.from_env()
        self._insert_session_if_absent = q.insert_session_if_absent[self.engine.dialect.name]

    # -- sessions -----------------------------------------------------------------------

    def get_or_create_session(
        self,
        session_id: str | None = None,
        metadata: dict | None = None,
        device_fingerprint: str | None = None,
    ) -> SessionRecord:
        """The session with this id (last_active refreshed), created when absent."""
        return self.open_session(session_id, metadata, device_fingerprint)[0]

    def open_session(
        self,
        session_id: str | None = None,
        metadata: dict | None = None,
        device_fingerprint: str | None = None,
    ) -> tuple[SessionRecord, bool]:
        """As get_or_create_session, and whether the session was created by this call."""
        problems = Problems()
        if session_id is not None:
            check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        check_fingerprint(problems, device_fingerprint, self.limits)
        problems.raise_if_any()
        session_id = session_id if session_id is not None else new_session_id()
        now = _now()
        with write_transaction(self.engine) as conn:
            if conn.execute(q.touch_session, {"sid": session_id, "now": now}).rowcount:
                return _session_record(conn.execute(q.select_session, {"sid": session_id}).one()), False
            # Only a new session must have a well-formed id: legacy ids keep working.
            check_new_session_id(problems, session_id, self.limits)
            problems.raise_if_any()
            values = {
                "sid": session_id,
                "fingerprint": device_fingerprint,
                "now": now,
                "meta": metadata or {},
            }
            created = conn.execute(self._insert_session_if_absent, values).first() is not None
            if not created:
                conn.execute(q.touch_session, {"sid": session_id, "now": now})
            return _session_record(conn.execute(q.select_session, {"sid": session_id}).one()), created

    def get_session(self, session_id: str) -> SessionRecord:
        """The session, or SessionNotFound."""
        self._check_id(session_id)
        with read_transaction(self.engine) as conn:
            row = conn.execute(q.select_session, {"sid": session_id}).first()
        if row is None:
            raise SessionNotFound(session_id)
        return _session_record(row)

    def update_session(
        self, session_id: str, metadata: dict | None = None, device_fingerprint: str | None = _UNSET
    ) -> SessionRecord:
        """Merge `metadata` into the session's (a key set to None is removed); set device_fingerprint when given."""
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        if device_fingerprint is not _UNSET:
            check_fingerprint(problems, device_fingerprint, self.limits)
        problems.raise_if_any()
        with write_transaction(self.engine) as conn:
            row = conn.execute(q.select_session_for_update, {"sid": session_id}).first()
            if row is None:
                raise SessionNotFound(session_id)
            current = _session_record(row)
            merged = current.metadata
            if metadata:
                # Only the keys this patch sets to None go; stored values are never judged again.
                merged = {**merged, **metadata}
                merged = {k: v for k, v in merged.items() if not (k in metadata and metadata[k] is None)}
                check_metadata(problems, merged, self.limits)
                problems.raise_if_any()
            fingerprint = current.device_fingerprint if device_fingerprint is _UNSET else device_fingerprint
            values = {"sid": session_id, "meta": merged, "fingerprint": fingerprint, "now": _now()}
            conn.execute(q.update_session, values)
            return _session_record(conn.execute(q.select_session, {"sid": session_id}).one())

    def delete_session(self, session_id: str) -> None:
        """Delete the session and all its messages."""
        self._check_id(session_id)
        with write_transaction(self.engine) as conn:
            # Lock the row first (PostgreSQL): an append racing in would otherwise insert a message
            # between the two deletes and fail the second on the foreign key.
            if conn.execute(q.select_session_for_update, {"sid": session_id}).first() is None:
                raise SessionNotFound(session_id)
            conn.execute(q.delete_messages, {"sid": session_id})
            conn.execute(q.delete_session, {"sid": session_id})

    # -- messages -----------------------------------------------------------------------

    def save_message(self, session_id: str, role: str, content: str, metadata: dict | None = None) -> int:
        """Append a message, count it and refresh last_active in one transaction; return its id."""
        return self.add_message(session_id, role, content, metadata).id

    def add_message(self, session_id: str, role: str, content: str, metadata: dict | None = None) -> MessageRecord:
        """As save_message, returning the stored message (as a later read would return it)."""
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_role(problems, role)
        check_content(problems, content, self.limits)
        stored_meta = check_metadata(problems, metadata, self.limits)  # encoded once, stored as it is
        problems.raise_if_any()
        now = _now()
        dialect = self.engine.dialect
        stamp = stored_timestamp(now, dialect.name)
        with driver_transaction(self.engine, write=True) as cursor:
            if driver.COUNT_MESSAGE.execute(cursor, dialect, {"sid": session_id, "now": stamp}).rowcount != 1:
                raise SessionNotFound(session_id)
            values = {
                "m_sid": session_id,
                "m_role": role,
                "m_content": content,
                "m_timestamp": stamp,
                "m_metadata": stored_meta,
            }
            message_id = driver.INSERT_MESSAGE.execute(cursor, dialect, values).fetchone()[0]
        # Built from what was written, through the same readers, instead of a second query.
        return MessageRecord(message_id, session_id, role, content, parse_timestamp(stamp), parse_metadata(stored_meta))

    def get_chat_history(self, session_id: str, limit: int = 50, before: int | None = None) -> list[MessageRecord]:
        """The newest `limit` messages (with id < before, when given), oldest first."""
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_positive_int(problems, "limit", limit)
        if before is not None:
            check_positive_int(problems, "before", before)
        problems.raise_if_any()
        # Ids are 64-bit on both databases: a bound past the largest excludes nothing, and the
        # driver cannot even bind it (OverflowError on SQLite, out of range on PostgreSQL).
        limit = min(limit, MAX_ROW_ID)
        before = before if before is None or before <= MAX_ROW_ID else None
        dialect = self.engine.dialect
        params = {"sid": session_id, "limit": limit, "before": before}
        statement = driver.NEWEST_MESSAGES if before is None else driver.NEWEST_MESSAGES_BEFORE
        with driver_transaction(self.engine, write=False) as cursor:
            rows = statement.execute(cursor, dialect, params).fetchall()
            if not rows and driver.SESSION_EXISTS.execute(cursor, dialect, params).fetchone() is None:
                raise SessionNotFound(session_id)
        return [MessageRecord(*message_values(row)) for row in reversed(rows)]

    def clear_history(self, session_id: str) -> None:
        """Delete every message of the session and set its count back to 0; the session stays."""
        self._check_id(session_id)
        with write_transaction(self.engine) as conn:
            if not conn.execute(q.reset_count, {"sid": session_id}).rowcount:
                raise SessionNotFound(session_id)
            conn.execute(q.delete_messages, {"sid": session_id})

    def get_session_stats(self, session_id: str) -> SessionStats:
        """Counts and times of the session: per role, first and last message."""
        self._check_id(session_id)
        params = {"sid": session_id}
        with read_transaction(self.engine) as conn:
            row = conn.execute(q.select_session, params).first()
            if row is None:
                raise SessionNotFound(session_id)
            by_role = {role: count for role, count in conn.execute(q.count_by_role, params)}
            first = conn.execute(q.first_message_time, params).scalar()
            last = conn.execute(q.last_message_time, params).scalar()
        session = _session_record(row)
        return SessionStats(
            session_id=session.session_id,
            message_count=session.message_count,
            created_at=session.created_at,
            last_active=session.last_active,
            first_message_at=first,
            last_message_at=last,
            messages_by_role=by_role,
        )

    @staticmethod
    def _check_id(session_id: Any) -> None:
        problems = Problems()
        check_lookup_id(problems, session_id)
        problems.raise_if_any()

    # -- operators ----------------------------------------------------------------------

    def list_sessions(
        self, limit: int = 50, cursor: str | None = None, device_fingerprint: str | None = None
    ) -> SessionPage:
        """Sessions, most recently active first (ties by session_id), keyset-paged by an opaque cursor."""
        problems = Problems()
        check_positive_int(problems, "limit", limit, maximum=500)
        check_fingerprint(problems, device_fingerprint, self.limits)
        problems.raise_if_any()
        # Phase "a": rows with last_active, newest first; phase "n": rows without, after them.
        phase, key, sid = ("a", None, None)
        if cursor is not None:
            phase, key, sid = decode_listing_cursor(cursor, self.engine.dialect.name)
        params = {"limit": limit + 1, "key": key, "sid": sid, "fingerprint": device_fingerprint}
        filtered = device_fingerprint is not None
        rows = []
        with read_transaction(self.engine) as conn:
            if phase == "a":
                rows = conn.execute(q.list_sessions[True, cursor is not None, filtered], params).all()
            if len(rows) <= limit:
                after = phase == "n"
                params["limit"] = limit + 1 - len(rows)
                rows += conn.execute(q.list_sessions[False, after, filtered], params).all()
        more, rows = len(rows) > limit, rows[:limit]
        next_cursor = None
        if more:
            last = rows[-1]
            phase = "n" if last.raw_last_active is None else "a"
            next_cursor = encode_cursor([phase, last.raw_last_active, last.session_id])
        return SessionPage([_session_record(row) for row in rows], next_cursor)
