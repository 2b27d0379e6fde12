"""SessionService: every operation on sessions and their messages, one short transaction each."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.services.errors import SessionNotFound
from backend.services.listing import list_sessions
from backend.services.validation import (
    Problems,
    check_before,
    check_content,
    check_fingerprint,
    check_lookup_id,
    check_metadata,
    check_page_limit,
    check_role,
    new_session_id_problem,
)
from backend.settings import Config, Limits
from backend.store import statements as st
from backend.store.engines import engine_for
from backend.store.records import HistoryPage, MessageRecord, SessionPage, SessionRecord, SessionStats
from backend.store.transaction import transaction

_UNSET: Any = object()
MAX_ROW_ID = 2**63 - 1


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_session_id() -> str:
    """An unguessable id: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class SessionService:
    """Sessions and their messages; usable with or without Flask."""

    def __init__(self, url_or_engine: str | sa.Engine | None = None, *, limits: Limits | None = None):
        if url_or_engine is None:
            config = Config()
            url_or_engine, limits = config.DATABASE_URL, limits or config.LIMITS
        self.engine = engine_for(url_or_engine)
        self.limits = limits or Limits.from_env()
        self._insert_session_if_absent = st.insert_session_if_absent[self.engine.dialect.name]

    # -- sessions -----------------------------------------------------------------------

    def get_or_create_session(
        self, session_id: str | None = None, metadata: dict | None = None, device_fingerprint: str | None = None
    ) -> SessionRecord:
        """The session with this id (last_active refreshed), created when absent."""
        return self.open_session(session_id, metadata, device_fingerprint)[0]

    def open_session(
        self, session_id: str | None = None, metadata: dict | None = None, device_fingerprint: str | None = None
    ) -> tuple[SessionRecord, bool]:
        """As get_or_create_session, and whether the session was created by this call."""
        problems = Problems()
        if session_id is not None:
            check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        check_fingerprint(problems, device_fingerprint, self.limits)
        if problems.errors:
            # Name every problem at once: an id only a new session may not have counts too,
            # unless the session exists (legacy ids keep working).
            if "session_id" not in problems.errors and session_id is not None:
                id_problem = new_session_id_problem(session_id, self.limits)
                if id_problem and not self._exists(session_id):
                    problems.add("session_id", id_problem)
            problems.raise_if_any()
        session_id = session_id if session_id is not None else new_session_id()
        now = _now()
        with transaction(self.engine, write=True) as tx:
            if tx.execute(st.touch_session, {"sid": session_id, "now": now}).rowcount:
                return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), False
            id_problem = new_session_id_problem(session_id, self.limits)
            if id_problem:
                problems.add("session_id", id_problem)
                problems.raise_if_any()
            values = {"sid": session_id, "fingerprint": device_fingerprint, "now": now, "meta": metadata or {}}
            created = tx.execute(self._insert_session_if_absent, values).first() is not None
            if not created:
                tx.execute(st.touch_session, {"sid": session_id, "now": now})
            return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), created

    def get_session(self, session_id: str) -> SessionRecord:
        """The session, or SessionNotFound."""
        self._check_id(session_id)
        with transaction(self.engine, write=False) as tx:
            row = tx.execute(st.select_session, {"sid": session_id}).first()
        if row is None:
            raise SessionNotFound(session_id)
        return st.SESSION.from_result_row(row)

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
        with transaction(self.engine, write=True) as tx:
            row = tx.execute(st.select_session_for_update, {"sid": session_id}).first()
            if row is None:
                raise SessionNotFound(session_id)
            current = st.SESSION.from_result_row(row)
            merged = current.metadata
            if metadata:
                # Only the keys this patch sets to None go; stored values are never judged again.
                merged = {**merged, **metadata}
                merged = {k: v for k, v in merged.items() if not (k in metadata and metadata[k] is None)}
                check_metadata(problems, merged, self.limits)
                problems.raise_if_any()
            fingerprint = current.device_fingerprint if device_fingerprint is _UNSET else device_fingerprint
            values = {"sid": session_id, "meta": merged, "fingerprint": fingerprint, "now": _now()}
            tx.execute(st.update_session, values)
            return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one())

    def delete_session(self, session_id: str) -> None:
        """Delete the session and all its messages."""
        self._check_id(session_id)
        with transaction(self.engine, write=True) as tx:
            # Lock the row first (PostgreSQL): an append racing in would otherwise insert a message
            # between the two deletes and fail the second on the foreign key.
            if tx.execute(st.select_session_for_update, {"sid": session_id}).first() is None:
                raise SessionNotFound(session_id)
            tx.execute(st.delete_messages, {"sid": session_id})
            tx.execute(st.delete_session, {"sid": session_id})

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
        dialect = self.engine.dialect
        stamp = stored_timestamp(_now(), dialect.name)
        values = {"session_id": session_id, "role": role, "content": content, "timestamp": stamp, "metadata": stored_meta}
        with transaction(self.engine, write=True) as tx:
            if tx.run(st.increment_message_count, {"sid": session_id, "now": stamp}).rowcount != 1:
                raise SessionNotFound(session_id)
            values["id"] = tx.run(st.insert_message, values).fetchone()[0]
        # Built from what was written, through the same readers, instead of a second query.
        return st.MESSAGE.from_stored(values, dialect)

    def get_chat_history(self, session_id: str, limit: int = 50, before: int | None = None) -> list[MessageRecord]:
        """The newest `limit` messages (with id < before, when given), oldest first."""
        return self._history(session_id, limit, before, look_further=False).messages

    def get_history_page(self, session_id: str, limit: int = 50, before: int | None = None) -> HistoryPage:
        """As get_chat_history, and the `before` of the page before it (None when there is none)."""
        return self._history(session_id, limit, before, look_further=True)

    def _history(self, session_id: str, limit: int, before: int | None, *, look_further: bool) -> HistoryPage:
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_page_limit(problems, limit, self.limits)
        check_before(problems, before)
        problems.raise_if_any()
        # Ids are 64-bit on both databases: a bound past the largest excludes nothing, and the
        # driver cannot even bind it (OverflowError on SQLite, out of range on PostgreSQL).
        before = before if before is None or before <= MAX_ROW_ID else None
        # One more than asked tells whether an older page exists, without a second query.
        params = {"sid": session_id, "limit": limit + 1 if look_further else limit, "before": before}
        statement = st.newest_messages if before is None else st.newest_messages_before
        with transaction(self.engine, write=False) as tx:
            rows = tx.run(statement, params).fetchall()
            if not rows and tx.run(st.session_exists, params).fetchone() is None:
                raise SessionNotFound(session_id)
        older = len(rows) > limit
        dialect = self.engine.dialect
        messages = [st.MESSAGE.from_driver_row(row, dialect) for row in reversed(rows[:limit])]
        return HistoryPage(session_id, messages, messages[0].id if older else None)

    def clear_history(self, session_id: str) -> None:
        """Delete every message of the session and set its count back to 0; the session stays."""
        self._check_id(session_id)
        with transaction(self.engine, write=True) as tx:
            if not tx.execute(st.reset_message_count, {"sid": session_id}).rowcount:
                raise SessionNotFound(session_id)
            tx.execute(st.delete_messages, {"sid": session_id})

    def pop_last_message(self, session_id: str) -> MessageRecord | None:
        """Remove and return the newest message (None when there is none); the count goes down with it."""
        self._check_id(session_id)
        with transaction(self.engine, write=True) as tx:
            # The session row locked first, as delete does: the count stays equal to the rows.
            if tx.execute(st.select_session_for_update, {"sid": session_id}).first() is None:
                raise SessionNotFound(session_id)
            row = tx.execute(st.newest_message, {"sid": session_id}).first()
            if row is not None:
                tx.execute(st.delete_message, {"id": row.id})
                tx.execute(st.decrement_message_count, {"sid": session_id})
        return None if row is None else st.MESSAGE.from_result_row(row)

    def get_session_stats(self, session_id: str) -> SessionStats:
        """Counts and times of the session: per role, first and last message."""
        self._check_id(session_id)
        params = {"sid": session_id}
        with transaction(self.engine, write=False) as tx:
            row = tx.execute(st.select_session, params).first()
            if row is None:
                raise SessionNotFound(session_id)
            by_role = {role: count for role, count in tx.execute(st.count_by_role, params)}
            first = tx.execute(st.first_message_time, params).scalar()
            last = tx.execute(st.last_message_time, params).scalar()
        session = st.SESSION.from_result_row(row)
        return SessionStats(
            session_id=session.session_id,
            message_count=session.message_count,
            created_at=session.created_at,
            last_active=session.last_active,
            first_message_at=first,
            last_message_at=last,
            messages_by_role=by_role,
        )

    def list_sessions(
        self, limit: int = 50, cursor: str | None = None, device_fingerprint: str | None = None
    ) -> SessionPage:
        """Sessions, most recently active first (ties by session_id), keyset-paged by an opaque cursor."""
        return list_sessions(self.engine, self.limits, limit, cursor, device_fingerprint)

    def _exists(self, session_id: str) -> bool:
        with transaction(self.engine, write=False) as tx:
            return tx.run(st.session_exists, {"sid": session_id}).fetchone() is not None

    @staticmethod
    def _check_id(session_id: Any) -> None:
        problems = Problems()
        check_lookup_id(problems, session_id)
        problems.raise_if_any()
