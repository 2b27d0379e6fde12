"""The message operations of SessionService: append (optionally once per idempotency key), page, clear."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.services.errors import SessionNotFound, TurnInProgress
from backend.services.history import history_page, oldest_first, recent_messages
from backend.services.idempotency import IdempotencyKeys, key_scope
from backend.services.outcomes import record_from_json, record_to_json, request_hash
from backend.services.validation import (
    Problems,
    check_before,
    check_content,
    check_idempotency_key,
    check_lookup_id,
    check_metadata,
    check_page_limit,
    check_role,
)
from backend.settings import Limits
from backend.store import statements as st
from backend.store.records import HistoryPage, MessageRecord, SessionRecord, TurnStart
from backend.store.transaction import Transaction, transaction


def reachable(row, session_id: str, owner: str | None) -> SessionRecord:
    """The session of `row`; SessionNotFound when there is none or, with `owner`, when it is not the owner's."""
    session = None if row is None else st.SESSION.from_result_row(row)
    if session is None or (owner is not None and session.owner != owner):
        raise SessionNotFound(session_id)
    return session


class MessageOperations:
    """Mixed into SessionService, which provides engine, limits and keys."""

    engine: sa.Engine
    limits: Limits
    keys: IdempotencyKeys

    def save_message(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """Append a message, count it and refresh last_active in one transaction; return its id."""
        return self.add_message(session_id, role, content, metadata, owner=owner, idempotency_key=idempotency_key).id

    def add_message(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> MessageRecord:
        """As save_message, returning the stored message (as a later read would return it).

        With an idempotency key, a repeat returns the first call's message and stores nothing; its
        outcome is stored in the transaction of the append.
        """
        values = self._message_values(session_id, role, content, metadata, idempotency_key)
        if idempotency_key is None:
            with transaction(self.engine, write=True, one_statement=True) as tx:  # one on PostgreSQL (_append)
                return self._append(tx, values, owner)
        with transaction(self.engine, write=True) as tx:
            fingerprint = request_hash(
                "add_message", session_id=session_id, role=role, content=content, metadata=metadata
            )
            claim = self.keys.claim(tx, key_scope(session_id, owner), idempotency_key, fingerprint)
            if claim.replay is not None:
                return record_from_json(MessageRecord, claim.replay.outcome)
            message = self._append(tx, values, owner)
            self.keys.complete(tx, claim, 201, record_to_json(message))
            return message

    def append_with(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict | None,
        also: Callable[[Transaction, MessageRecord], None],
        *,
        owner: str | None = None,
        first: Callable[[Transaction], None] | None = None,
    ) -> MessageRecord:
        """As add_message, with `first(tx)` before the append and `also(tx, message)` after it, in the same
        transaction (a turn gives its lease back and stores its outcome)."""
        values = self._message_values(session_id, role, content, metadata, None)
        with transaction(self.engine, write=True) as tx:
            if first is not None:
                first(tx)
            message = self._append(tx, values, owner)
            also(tx, message)
            return message

    def open_turn(
        self,
        session_id: str,
        content: str,
        metadata: dict | None,
        *,
        hold: Callable[[Transaction], None],
        also: Callable[[Transaction, MessageRecord], None],
        reuse_message_id: int | None = None,
        history_limit: int = 20,
        owner: str | None = None,
    ) -> TurnStart:
        """A turn's first write, one transaction: `hold(tx)` (the turn's lease), then the user's message stored
        with `also(tx, message)`, or the one `reuse_message_id` names if an earlier attempt stored it; and what
        the agent needs, the session and the `history_limit` messages before that message."""
        values = self._message_values(session_id, "user", content, metadata, None)
        with transaction(self.engine, write=True) as tx:
            try:
                hold(tx)
            except TurnInProgress:
                # Busy or not, a session that is not the caller's is missing: a 404, never a 409.
                reachable(tx.execute(st.select_session, {"sid": session_id}).first(), session_id, owner)
                raise
            message = None
            if reuse_message_id is not None:
                row = tx.execute(st.select_message, {"sid": session_id, "id": reuse_message_id}).first()
                message = None if row is None else st.MESSAGE.from_result_row(row)
            if message is None:
                session, message = self._append_returning_session(tx, values, owner)
                also(tx, message)
            else:
                session = reachable(tx.execute(st.select_session, {"sid": session_id}).first(), session_id, owner)
            rows = []
            if history_limit > 0:
                params = {"sid": session_id, "limit": history_limit, "before": message.id}
                rows = tx.run(st.newest_messages_before, params).fetchall()
        return TurnStart(session, message, oldest_first(rows, self.engine.dialect))

    def _message_values(self, session_id, role, content, metadata, idempotency_key) -> dict:
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_role(problems, role)
        check_content(problems, content, self.limits)
        stored_meta = check_metadata(problems, metadata, self.limits)  # encoded once, stored as it is
        check_idempotency_key(problems, idempotency_key)
        problems.raise_if_any()
        stamp = stored_timestamp(datetime.now(UTC), self.engine.dialect.name)
        return {"session_id": session_id, "role": role, "content": content, "timestamp": stamp, "metadata": stored_meta}

    def _append(self, tx: Transaction, values: dict, owner: str | None) -> MessageRecord:
        params = {"sid": values["session_id"], "now": values["timestamp"], "scope": owner}
        if self.engine.dialect.name == "postgresql":
            row = tx.run(st.count_and_insert_message[owner is not None], {**values, **params}).fetchone()
            if row is None:
                raise SessionNotFound(values["session_id"])
            values["id"] = row[0]
            return st.MESSAGE.from_stored(values, self.engine.dialect)
        count = st.increment_message_count if owner is None else st.increment_owned_message_count
        if tx.run(count, params).rowcount != 1:
            raise SessionNotFound(values["session_id"])
        return self._insert(tx, values)

    def _append_returning_session(
        self, tx: Transaction, values: dict, owner: str | None
    ) -> tuple[SessionRecord, MessageRecord]:
        params = {"sid": values["session_id"], "now": values["timestamp"], "scope": owner}
        row = tx.run(st.count_and_read_session[owner is not None], params).fetchone()
        if row is None:
            raise SessionNotFound(values["session_id"])
        return st.SESSION.from_driver_row(row, self.engine.dialect), self._insert(tx, values)

    def _insert(self, tx: Transaction, values: dict) -> MessageRecord:
        values["id"] = tx.run(st.insert_message, values).fetchone()[0]
        # Built from what was written, through the same readers, instead of a second query.
        return st.MESSAGE.from_stored(values, self.engine.dialect)

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

    def pop_last_message(self, session_id: str, *, owner: str | None = None) -> MessageRecord | None:
        """Remove and return the newest message (None when there is none); the count goes down with it."""
        self._check_id(session_id)
        with transaction(self.engine, write=True) as tx:
            # The session row locked first, as delete does: the count stays equal to the rows.
            reachable(tx.execute(st.select_session_for_update, {"sid": session_id}).first(), session_id, owner)
            row = tx.execute(st.newest_message, {"sid": session_id}).first()
            if row is not None:
                tx.execute(st.delete_message, {"id": row.id})
                tx.execute(st.decrement_message_count, {"sid": session_id})
        return None if row is None else st.MESSAGE.from_result_row(row)

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
