"""Everything stored of one owner, for a copy (export) and for erasure: in batches of sessions, keyset-paged."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from backend.store.records import MessageRecord, SessionRecord, SummaryRecord
from backend.store.repositories import Repository
from backend.store.repositories.dependents import delete_dependents
from backend.store.sql import (
    MESSAGE,
    SESSION,
    SUMMARY,
    TURN,
    idempotency_keys,
    messages,
    sessions,
    summaries,
    turn_leases,
    turns,
)
from backend.store.turn_records import TurnRecord

_sids = sa.bindparam("sids", expanding=True)
sessions_of_owner = (
    SESSION.select()
    .where(sessions.c.owner == sa.bindparam("owner"), sessions.c.session_id > sa.bindparam("after"))
    .order_by(sessions.c.session_id)
    .limit(sa.bindparam("limit"))
)
sessions_of_owner_locked = sessions_of_owner.with_for_update()  # appends to them wait for the erase, then find none
running_lease = (
    sa.select(turn_leases.c.session_id, turn_leases.c.expires_at)
    .where(turn_leases.c.session_id.in_(_sids), turn_leases.c.expires_at > sa.bindparam("now"))
    .limit(1)
)
# Superseded messages too: a copy of a user's data holds what a rewind took out of the history.
messages_page = (
    sa.select(*MESSAGE.columns, messages.c.superseded_at)
    .where(messages.c.session_id == sa.bindparam("sid"), messages.c.id > sa.bindparam("after"))
    .order_by(messages.c.id)
    .limit(sa.bindparam("limit"))
)
summaries_of_session = SUMMARY.select().where(summaries.c.session_id == sa.bindparam("sid")).order_by(summaries.c.id)
turns_of_session = TURN.select().where(turns.c.session_id == sa.bindparam("sid")).order_by(turns.c.created_at)
delete_messages = messages.delete().where(messages.c.session_id.in_(_sids))
delete_sessions = sessions.delete().where(sessions.c.session_id.in_(_sids))
delete_leases = turn_leases.delete().where(turn_leases.c.session_id.in_(_sids))
# Stored outcomes of requests hold what was written: the owner's keys (jwt mode) and each session's (none mode).
delete_keys = idempotency_keys.delete().where(idempotency_keys.c.scope.in_(sa.bindparam("scopes", expanding=True)))


class OwnerRepository(Repository):
    """The sessions of an owner and all that hangs off them."""

    __slots__ = ()

    def sessions(self, owner: str, after: str, limit: int, *, for_update: bool = False) -> list[SessionRecord]:
        """Up to `limit` sessions of `owner` with ids after `after`, by id; `for_update` locks them until commit."""
        statement = sessions_of_owner_locked if for_update else sessions_of_owner
        rows = self.tx.execute(statement, {"owner": owner, "after": after, "limit": limit})
        return [SESSION.from_result_row(row) for row in rows]

    def running_turn(self, session_ids: list[str], now: datetime) -> tuple[str, datetime] | None:
        """A session of these whose turn lease is held at `now`, with when it lapses; None when no turn runs."""
        row = self.tx.execute(running_lease, {"sids": session_ids, "now": now}).first()
        return None if row is None else (row[0], row[1])

    def messages(self, session_id: str, after: int, limit: int) -> list[tuple[MessageRecord, bool]]:
        """Up to `limit` messages of the session after id `after`, superseded ones included (True beside them)."""
        rows = self.tx.execute(messages_page, {"sid": session_id, "after": after, "limit": limit})
        return [(MESSAGE.from_result_row(row), row[-1] is not None) for row in rows]

    def summaries(self, session_id: str) -> list[SummaryRecord]:
        """The session's summaries, oldest first."""
        return [SUMMARY.from_result_row(row) for row in self.tx.execute(summaries_of_session, {"sid": session_id})]

    def turns(self, session_id: str) -> list[TurnRecord]:
        """The session's turns, oldest first."""
        return [TURN.from_result_row(row) for row in self.tx.execute(turns_of_session, {"sid": session_id})]

    def erase(self, owner: str, session_ids: list[str], key_scopes: list[str]) -> dict[str, int]:
        """Delete these sessions of `owner`, with their messages, turns and events, summaries, leases, and the
        idempotency keys of `key_scopes`; how many rows of each."""
        params = {"sids": session_ids}
        counts = delete_dependents(self.tx, session_ids)
        counts["turn_leases"] = self.tx.execute(delete_leases, params).rowcount
        counts["idempotency_keys"] = self.tx.execute(delete_keys, {"scopes": key_scopes}).rowcount
        counts["messages"] = self.tx.execute(delete_messages, params).rowcount
        counts["sessions"] = self.tx.execute(delete_sessions, params).rowcount
        return counts
