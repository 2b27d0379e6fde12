"""SessionService: every operation on sessions and their messages, one short transaction each."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from backend.services.errors import SessionNotFound
from backend.services.etags import check_if_match
from backend.services.idempotency import DEFAULT_TTL_S, IdempotencyKeys, key_scope
from backend.services.listing import list_sessions
from backend.services.messages import MessageOperations, reachable
from backend.services.outcomes import record_from_json, record_to_json, request_hash
from backend.services.validation import (
    Problems,
    check_fingerprint,
    check_idempotency_key,
    check_lookup_id,
    check_metadata,
    check_owner,
    new_session_id_problem,
)
from backend.settings import Config, Limits
from backend.store import statements as st
from backend.store.engines import engine_for
from backend.store.records import SessionPage, SessionRecord, SessionStats
from backend.store.transaction import Transaction, transaction

_UNSET: Any = object()


def _now() -> datetime:
    return datetime.now(UTC)


def new_session_id() -> str:
    """An unguessable id: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class SessionService(MessageOperations):
    """Sessions and their messages (messages.MessageOperations); usable with or without Flask.

    Every method takes an optional `owner`: a session of another owner (or of none) is then
    exactly a missing one. The agent process is trusted and leaves it out.
    """

    def __init__(
        self,
        url_or_engine: str | sa.Engine | None = None,
        *,
        limits: Limits | None = None,
        idempotency_ttl_s: float | None = None,
    ):
        if url_or_engine is None:
            config = Config()
            url_or_engine, limits = config.DATABASE_URL, limits or config.LIMITS
            idempotency_ttl_s = idempotency_ttl_s or config.IDEMPOTENCY_TTL_S
        self.engine = engine_for(url_or_engine)
        self.limits = limits or Limits.from_env()
        self.keys = IdempotencyKeys(self.engine, ttl_s=idempotency_ttl_s or DEFAULT_TTL_S)
        self._insert_session_if_absent = st.insert_session_if_absent[self.engine.dialect.name]

    # -- sessions -----------------------------------------------------------------------

    def get_or_create_session(
        self,
        session_id: str | None = None,
        metadata: dict | None = None,
        device_fingerprint: str | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> SessionRecord:
        """The session with this id (last_active refreshed), created when absent (see open_session)."""
        return self.open_session(
            session_id, metadata, device_fingerprint, owner=owner, idempotency_key=idempotency_key
        )[0]

    def open_session(
        self,
        session_id: str | None = None,
        metadata: dict | None = None,
        device_fingerprint: str | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[SessionRecord, bool]:
        """As get_or_create_session, and whether the session was created by this call.

        With `owner`, a new session belongs to it and always gets a generated id: a given id only
        reopens one of the owner's own sessions (SessionNotFound otherwise), so that no answer tells
        whether another owner holds that id. With an idempotency key, a repeat returns the first
        call's session and answer, with no new effect.
        """
        problems = Problems()
        check_idempotency_key(problems, idempotency_key)
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
        with transaction(self.engine, write=True) as tx:
            if idempotency_key is None:
                return self._open(tx, session_id, metadata, device_fingerprint, owner, problems)
            fingerprint = request_hash(
                "open_session", session_id=session_id, metadata=metadata, device_fingerprint=device_fingerprint
            )
            claim = self.keys.claim(tx, key_scope(session_id, owner), idempotency_key, fingerprint)
            if claim.replay is not None:
                return record_from_json(SessionRecord, claim.replay.outcome), claim.replay.status == 201
            record, created = self._open(tx, session_id, metadata, device_fingerprint, owner, problems)
            self.keys.complete(tx, claim, 201 if created else 200, record_to_json(record))
            return record, created

    def _open(
        self, tx: Transaction, session_id, metadata, device_fingerprint, owner, problems
    ) -> tuple[SessionRecord, bool]:
        now = _now()
        if owner is not None and session_id is not None:
            if not tx.execute(st.touch_owned_session, {"sid": session_id, "scope": owner, "now": now}).rowcount:
                raise SessionNotFound(session_id)
            return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), False
        session_id = session_id if session_id is not None else new_session_id()
        if tx.execute(st.touch_session, {"sid": session_id, "now": now}).rowcount:
            return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), False
        id_problem = new_session_id_problem(session_id, self.limits)
        if id_problem:
            problems.add("session_id", id_problem)
            problems.raise_if_any()
        values = {
            "sid": session_id,
            "fingerprint": device_fingerprint,
            "now": now,
            "meta": metadata or {},
            "new_owner": owner,
        }
        created = tx.execute(self._insert_session_if_absent, values).first() is not None
        if not created:
            tx.execute(st.touch_session, {"sid": session_id, "now": now})
        return st.SESSION.from_result_row(tx.execute(st.select_session, {"sid": session_id}).one()), created

    def get_session(self, session_id: str, *, owner: str | None = None) -> SessionRecord:
        """The session, or SessionNotFound (also when `owner` is given and the session is not its)."""
        self._check_id(session_id)
        with transaction(self.engine, write=False) as tx:
            row = tx.execute(st.select_session, {"sid": session_id}).first()
        return reachable(row, session_id, owner)

    def update_session(
        self,
        session_id: str,
        metadata: dict | None = None,
        device_fingerprint: str | None = _UNSET,
        *,
        owner: str | None = None,
        if_match: str | Iterable[str] | None = None,
    ) -> SessionRecord:
        """Merge `metadata` into the session's (a key set to None is removed); set device_fingerprint when given.

        With `if_match` (ETags, see etags.session_etag), PreconditionFailed unless the session is still at one of them.
        """
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        if device_fingerprint is not _UNSET:
            check_fingerprint(problems, device_fingerprint, self.limits)
        problems.raise_if_any()
        with transaction(self.engine, write=True) as tx:
            current = reachable(
                tx.execute(st.select_session_for_update, {"sid": session_id}).first(), session_id, owner
            )
            check_if_match(current, if_match)  # under the row lock: no update slips in between
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

    def delete_session(
        self, session_id: str, *, owner: str | None = None, if_match: str | Iterable[str] | None = None
    ) -> None:
        """Delete the session and all its messages (with `if_match`, only while the session is at that ETag)."""
        self._check_id(session_id)
        with transaction(self.engine, write=True) as tx:
            # Lock the row first (PostgreSQL): an append racing in would otherwise insert a message
            # between the two deletes and fail the second on the foreign key.
            current = reachable(
                tx.execute(st.select_session_for_update, {"sid": session_id}).first(), session_id, owner
            )
            check_if_match(current, if_match)
            tx.execute(st.delete_messages, {"sid": session_id})
            tx.execute(st.delete_session, {"sid": session_id})

    def get_session_stats(self, session_id: str, *, owner: str | None = None) -> SessionStats:
        """Counts and times of the session: per role, first and last message."""
        self._check_id(session_id)
        params = {"sid": session_id}
        with transaction(self.engine, write=False) as tx:
            session = reachable(tx.execute(st.select_session, params).first(), session_id, owner)
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
        self,
        limit: int = 50,
        cursor: str | None = None,
        device_fingerprint: str | None = None,
        *,
        owner: str | None = None,
    ) -> SessionPage:
        """Sessions (only `owner`'s when given), most recently active first (ties by session_id), keyset-paged
        by an opaque cursor; each with a preview of its last message."""
        return list_sessions(self.engine, self.limits, limit, cursor, device_fingerprint, owner)

    def _exists(self, session_id: str) -> bool:
        with transaction(self.engine, write=False) as tx:
            return tx.run(st.session_exists, {"sid": session_id}).fetchone() is not None
