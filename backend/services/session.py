"""SessionService: every operation on sessions and their messages, one short transaction each."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.services.errors import SessionNotFound
from backend.services.history import history_page, recent_messages
from backend.services.listing import list_sessions
from backend.services.validation import (
    Problems,
    check_before,
    check_content,
    check_fingerprint,
    check_lookup_id,
    check_metadata,
    check_owner,
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
        self, session_id: str | None = None, metadata: dict | None = None, device_fingerprint: str | None = None,
        *, owner: str | None = None,
    ) -> SessionRecord:
        """The session with this id (last_active refreshed), created when absent (see open_session for `owner`)."""
        return self.open_session(session_id, metadata, device_fingerprint, owner=owner)[0]

    def open_session(
        self, session_id: str | None = None, metadata: dict | None = None, device_fingerprint: str | None = None,
        *, owner: str | None = None,
    ) -> tuple[SessionRecord, bool]:
        """As get_or_create_session, and whether the session was created by this call.

        With `owner`, a new session belongs to it and always gets a generated id: a given id only
        reopens one of the owner's own sessions (SessionNotFound otherwise), so that no answer tells
        whether another owner holds that id.
        """
        problems = Problems()
        if session_id is not None:
            check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        check_fingerprint(problems, device_fingerprint, self.limits)
        check_owner(problems, owner, self.limits)
        if problems.errors:
            # Name every problem at once: an id only a new session may not have counts too,
            # unless the session exists (legacy ids keep working). A scoped caller never names one.
            if "session_id" not in problems.errors and session_id is not None and owner is None:
                id_problem = new_session_id_problem(session_id, self.limits)
                if id_problem and not self._exists(session_id):
                    problems.add("session_id", id_problem)
            problems.raise_if_any()
        now = _now()
        if owner is not None and session_id is not None:
            with transaction(self.engine, write=True) as tx:
                if not tx.execute(st.touch_owned_session, {"sid": session_id, "scope": owner, "now": now}).rowcount:
                    raise SessionNotFound(session_id)
                return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), False
        session_id = session_id if session_id is not None else new_session_id()
        with transaction(self.engine, write=True) as tx:
            if tx.execute(st.touch_session, {"sid": session_id, "now": now}).rowcount:
                return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), False
            id_problem = new_session_id_problem(session_id, self.limits)
            if id_problem:
                problems.add("session_id", id_problem)
                problems.raise_if_any()
            values = {"sid": session_id, "fingerprint": device_fingerprint, "now": now, "meta": metadata or {}, "new_owner": owner}
            created = tx.execute(self._insert_session_if_absent, values).first() is not None
            if not created:
                tx.execute(st.touch_session, {"sid": session_id, "now": now})
            return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), created

    def get_session(self, session_id: str, *, owner: str | None = None) -> SessionRecord:
        """The session, or SessionNotFound (also when `owner` is given and the session is not its)."""
        self._check_id(session_id)
        with transaction(self.engine, write=False) as tx:
            row = tx.execute(st.select_session, {"sid": session_id}).first()
        return _reachable(row, session_id, owner)

    def update_session(
        self, session_id: str, metadata: dict | None = None, device_fingerprint: str | None = _UNSET,
        *, owner: str | None = None,
    ) -> SessionRecord:
        """Merge `metadata` into the session's (a key set to None is removed); set device_fingerprint when given."""
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        if device_fingerprint is not _UNSET:
            check_fingerprint(problems, device_fingerprint, self.limits)
        problems.raise_if_any()
        with transaction(self.engine, write=True) as tx:
            current = _reachable(tx.execute(st.select_session_for_update, {"sid": session_id}).first(), session_id, owner)
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

    def delete_session(self, session_id: str, *, owner: str | None = None) -> None:
        """Delete the session and all its messages."""
        self._check_id(session_id)
        with transaction(self.engine, write=True) as tx:
            # Lock the row first (PostgreSQL): an append racing in would otherwise insert a message
            # between the two deletes and fail the second on the foreign key.
            _reachable(tx.execute(st.select_session_for_update, {"sid": session_id}).first(), session_id, owner)
            tx.execute(st.delete_messages, {"sid": session_id})
            tx.execute(st.delete_session, {"sid": session_id})

    # -- messages -----------------------------------------------------------------------

    def save_message(
        self, session_id: str, role: str, content: str, metadata: dict | None = None, *, owner: str | None = None
    ) -> int:
        """Append a message, count it and refresh last_active in one transaction; return its id."""
        return self.add_message(session_id, role, content, metadata, owner=owner).id

    def add_message(
        self, session_id: str, role: str, content: str, metadata: dict | None = None, *, owner: str | None = None
    ) -> MessageRecord:
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
        count = st.increment_message_count if owner is None else st.increment_owned_message_count
        with transaction(self.engine, write=True) as tx:
            if tx.run(count, {"sid": session_id, "now": stamp, "scope": owner}).rowcount != 1:
                raise SessionNotFound(session_id)
            values["id"] = tx.run(st.insert_message, values).fetchone()[0]
        # Built from what was written, through the same readers, instead of a second query.
        return st.MESSAGE.from_stored(values, dialect)

    def get_chat_history(
        self, session_id: str, limit: int = 50, before: int | None = None, *, owner: str | None = None
    ) -> list[MessageRecord]:
        """The newest `limit` messages (with id < before, when given), oldest first."""
        self._check_page(session_id, limit, before)
        return recent_messages(self.engine, session_id, limit, before, owner)

    def get_history_page(
        self, session_id: str, limit: int = 50, before: int | None = None, *, owner: str | None = None
    ) -> HistoryPage:
        """As get_chat_history, also stopping at limits.max_page_bytes of content and metadata (at least one
        message), and the `before` of the page before it (None when there is none)."""
        self._check_page(session_id, limit, before)
        return history_page(self.engine, self.limits, session_id, limit, before, owner)

    def clear_history(self, session_id: str, *, owner: str | None = None) -> None:
        """Delete every message of the session and set its count back to 0; the session stays."""
        self._check_id(session_id)
        reset = st.reset_message_count if owner is None else st.reset_owned_message_count
        with transaction(self.engine, write=True) as tx:
            if not tx.execute(reset, {"sid": session_id, "scope": owner}).rowcount:
                raise SessionNotFound(session_id)
            tx.execute(st.delete_messages, {"sid": session_id})

    def get_session_stats(self, session_id: str, *, owner: str | None = None) -> SessionStats:
        """Counts and times of the session: per role, first and last message."""
        self._check_id(session_id)
        params = {"sid": session_id}
        with transaction(self.engine, write=False) as tx:
            session = _reachable(tx.execute(st.select_session, params).first(), session_id, owner)
            by_role = {role: count for role, count in tx.execute(st.count_by_role, params)}
            first = tx.execute(st.first_message_time, params).scalar()
            last = tx.execute(st.last_message_time, params).scalar()
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
        self, limit: int = 50, cursor: str | None = None, device_fingerprint: str | None = None,
        *, owner: str | None = None,
    ) -> SessionPage:
        """Sessions (only `owner`'s when given), most recently active first (ties by session_id), keyset-paged
        by an opaque cursor; each with a preview of its last message."""
        return list_sessions(self.engine, self.limits, limit, cursor, device_fingerprint, owner)

    def _exists(self, session_id: str) -> bool:
        with transaction(self.engine, write=False) as tx:
            return tx.run(st.session_exists, {"sid": session_id}).fetchone() is not None

    @staticmethod
    def _check_id(session_id: Any) -> None:
        problems = Problems()
        check_lookup_id(problems, session_id)
        problems.raise_if_any()

    def _check_page(self, session_id: Any, limit: Any, before: Any) -> None:
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_page_limit(problems, limit, self.limits)
        check_before(problems, before)
        problems.raise_if_any()


def _reachable(row, session_id: str, owner: str | None) -> SessionRecord:
    """The session of `row`; SessionNotFound when there is none or, with `owner`, when it is not the owner's."""
    session = None if row is None else st.SESSION.from_result_row(row)
    if session is None or (owner is not None and session.owner != owner):
        raise SessionNotFound(session_id)
    return session
