"""Sessions: find, create, touch, update, delete, count by role, owners of legacy rows."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from backend.store.records import NewSession, SessionRecord
from backend.store.repositories import Repository
from backend.store.repositories.dependents import delete_dependents
from backend.store.sql import SESSION, Precompiled, at, by_id, live, messages, owned_by, per_dialect, sessions

select_session = SESSION.select().where(by_id(sessions))
select_session_for_update = select_session.with_for_update()
session_exists = Precompiled(sa.select(sa.literal(1)).where(by_id(sessions)))
session_owned = Precompiled(sa.select(sa.literal(1)).where(owned_by(sessions)))
_last_active = {"last_active": at(sessions.c.last_active)}
touch_session = sessions.update().where(by_id(sessions)).values(**_last_active)
touch_owned_session = sessions.update().where(owned_by(sessions)).values(**_last_active)
update_session = (
    sessions.update()
    .where(by_id(sessions))
    .values(
        metadata=sa.bindparam("meta", type_=sessions.c.metadata.type),
        device_fingerprint=sa.bindparam("fingerprint"),
        **_last_active,
    )
)
delete_session = sessions.delete().where(by_id(sessions))
delete_messages = messages.delete().where(by_id(messages))
# ON CONFLICT DO NOTHING: two processes creating the same id both succeed, one row results.
insert_session_if_absent = per_dialect(
    lambda dialect: (
        dialect.insert(sessions)
        .values(
            session_id=sa.bindparam("sid"),
            owner=sa.bindparam("new_owner", type_=sa.Text),
            device_fingerprint=sa.bindparam("fingerprint"),
            created_at=at(sessions.c.created_at),
            last_active=at(sessions.c.last_active),
            message_count=0,
            metadata=sa.bindparam("meta", type_=sessions.c.metadata.type),
        )
        .on_conflict_do_nothing()
        .returning(sessions.c.session_id)
    )
)
count_by_role = sa.select(messages.c.role, sa.func.count()).where(by_id(messages), live).group_by(messages.c.role)
first_message_time = sa.select(messages.c.timestamp).where(by_id(messages), live).order_by(messages.c.id.asc()).limit(1)
last_message_time = sa.select(messages.c.timestamp).where(by_id(messages), live).order_by(messages.c.id.desc()).limit(1)

# Owners of legacy sessions (an operator's command): only sessions that have none get one.
_unowned = sessions.c.owner.is_(None)
_new_owner = {"owner": sa.bindparam("new_owner", type_=sa.Text)}
assign_owner_by = {
    "session_id": sessions.update().where(by_id(sessions), _unowned).values(**_new_owner),
    "device_fingerprint": sessions.update()
    .where(sessions.c.device_fingerprint == sa.bindparam("sid", type_=sa.Text), _unowned)
    .values(**_new_owner),
}


class SessionRepository(Repository):
    """The sessions table; a missing session reads as None, a write to one as False."""

    __slots__ = ()

    def get(self, session_id: str, *, for_update: bool = False) -> SessionRecord | None:
        """The session, or None; `for_update` locks its row until the transaction ends (PostgreSQL)."""
        statement = select_session_for_update if for_update else select_session
        row = self.tx.execute(statement, {"sid": session_id}).first()
        return None if row is None else SESSION.from_result_row(row)

    def exists(self, session_id: str, owner: str | None = None) -> bool:
        """Whether the session exists (and, with `owner`, is that owner's)."""
        statement = session_exists if owner is None else session_owned
        return self.tx.run(statement, {"sid": session_id, "scope": owner}).fetchone() is not None

    def touch(self, session_id: str, now: datetime, owner: str | None = None) -> bool:
        """Refresh last_active (only of `owner`'s session when given); False when there is no such session."""
        statement = touch_session if owner is None else touch_owned_session
        return self.tx.execute(statement, {"sid": session_id, "scope": owner, "now": now}).rowcount == 1

    def add_if_absent(self, new: NewSession, now: datetime) -> bool:
        """Insert the session unless its id exists; whether this call created it."""
        values = {
            "sid": new.session_id,
            "fingerprint": new.device_fingerprint,
            "now": now,
            "meta": new.metadata or {},
            "new_owner": new.owner,
        }
        return self.tx.execute(insert_session_if_absent[self.tx.dialect.name], values).first() is not None

    def update(self, session_id: str, metadata: dict, device_fingerprint: str | None, now: datetime) -> None:
        """Replace the session's metadata and fingerprint."""
        values = {"sid": session_id, "meta": metadata, "fingerprint": device_fingerprint, "now": now}
        self.tx.execute(update_session, values)

    def delete(self, session_id: str) -> None:
        """Delete the session, every message of it, its turns with their events, and its summaries."""
        delete_dependents(self.tx, [session_id])
        self.tx.execute(delete_messages, {"sid": session_id})
        self.tx.execute(delete_session, {"sid": session_id})

    def message_stats(self, session_id: str) -> tuple[dict[str, int], datetime | None, datetime | None]:
        """Messages per role, and the times of the first and the last message."""
        params = {"sid": session_id}
        by_role = {role: count for role, count in self.tx.execute(count_by_role, params)}
        first = self.tx.execute(first_message_time, params).scalar()
        last = self.tx.execute(last_message_time, params).scalar()
        return by_role, first, last

    def assign_owner(self, key: str, value: str, owner: str) -> int:
        """Give `owner` to the sessions without one whose `key` column (session_id or device_fingerprint) is
        `value`; how many."""
        return self.tx.execute(assign_owner_by[key], {"sid": value, "new_owner": owner}).rowcount
