"""Idempotency keys: one row per (scope, key), in flight while its status is NULL, then the stored outcome."""

from __future__ import annotations

import functools
from datetime import datetime

import sqlalchemy as sa

from backend.store.records import IdempotencyRecord
from backend.store.repositories import Repository
from backend.store.sql import IDEMPOTENCY, idempotency_keys, per_dialect

# Bind names differ from the column names, which SQLAlchemy reserves in an UPDATE's SET clause.
_keys = idempotency_keys.c
_this_key = sa.and_(_keys.scope == sa.bindparam("k_scope"), _keys.key == sa.bindparam("k_key"))
_held_by = sa.and_(_this_key, _keys.holder == sa.bindparam("token"), _keys.status.is_(None))
_key_time = functools.partial(sa.bindparam, type_=_keys.expires_at.type)
select_key = IDEMPOTENCY.select().where(_this_key)
insert_key_if_absent = per_dialect(
    lambda dialect: (
        dialect.insert(idempotency_keys)
        .values(
            scope=sa.bindparam("k_scope"),
            key=sa.bindparam("k_key"),
            request_hash=sa.bindparam("k_hash"),
            holder=sa.bindparam("token"),
            held_until=_key_time("k_held_until"),
            created_at=_key_time("now"),
            expires_at=_key_time("k_expires_at"),
        )
        .on_conflict_do_nothing()
        .returning(_keys.key)
    )
)
# Past its time a key is forgotten: the same key then starts a new request.
delete_expired_key = idempotency_keys.delete().where(_this_key, _keys.expires_at < _key_time("now"))
# A reservation whose holder died (or gave up) lapses; one retry takes it over, atomically.
take_over_key = (
    idempotency_keys.update()
    .where(_this_key, _keys.status.is_(None), _keys.held_until < _key_time("now"))
    .values(holder=sa.bindparam("token"), held_until=_key_time("k_held_until"))
)
# One statement for every reservation a process renews (see turn_leases.renew_leases).
renew_holds = (
    idempotency_keys.update()
    .where(
        sa.tuple_(_keys.scope, _keys.key, _keys.holder).in_(sa.bindparam("held", expanding=True)),
        _keys.status.is_(None),
    )
    .values(held_until=_key_time("k_held_until"))
)
record_key_message = idempotency_keys.update().where(_held_by).values(message_id=sa.bindparam("k_message_id"))
complete_key = (
    idempotency_keys.update()
    .where(_held_by)
    .values(
        status=sa.bindparam("k_status"),
        outcome=sa.bindparam("k_outcome", type_=_keys.outcome.type),
        holder=sa.null(),
        held_until=sa.null(),
    )
)
delete_unused_key = idempotency_keys.delete().where(_held_by, _keys.message_id.is_(None))
lapse_key = idempotency_keys.update().where(_held_by).values(held_until=_key_time("now"))
purge_expired_keys = idempotency_keys.delete().where(_keys.expires_at < _key_time("now"))


class IdempotencyKeyRepository(Repository):
    """Keys by (scope, key); an attempt holds one by its token while it is in flight."""

    __slots__ = ()

    def insert_if_absent(
        self,
        scope: str,
        key: str,
        request_hash: str,
        token: str,
        now: datetime,
        held_until: datetime,
        expires_at: datetime,
    ) -> bool:
        """Claim a key nobody holds (a lapsed one is forgotten first); whether this call inserted it."""
        base = {"k_scope": scope, "k_key": key, "now": now}
        self.tx.execute(delete_expired_key, base)
        values = {
            **base,
            "k_hash": request_hash,
            "token": token,
            "k_held_until": held_until,
            "k_expires_at": expires_at,
        }
        return self.tx.execute(insert_key_if_absent[self.tx.dialect.name], values).first() is not None

    def get(self, scope: str, key: str) -> IdempotencyRecord:
        """The stored key (it exists: insert_if_absent found it)."""
        return IDEMPOTENCY.from_result_row(self.tx.execute(select_key, {"k_scope": scope, "k_key": key}).one())

    def take_over(self, scope: str, key: str, token: str, now: datetime, held_until: datetime) -> bool:
        """Hold a reservation whose holder's deadline passed; whether this call took it."""
        values = {"k_scope": scope, "k_key": key, "token": token, "now": now, "k_held_until": held_until}
        return self.tx.execute(take_over_key, values).rowcount == 1

    def renew(self, held: list[tuple[str, str, str]], held_until: datetime) -> None:
        """Extend the reservations `held` (scope, key, token) of turns still running until `held_until`."""
        if held:
            self.tx.execute(renew_holds, {"held": list(held), "k_held_until": held_until})

    def record_message(self, scope: str, key: str, token: str, message_id: int) -> bool:
        """Note the user message a turn stored under the key it holds; False when it no longer holds it."""
        values = {"k_scope": scope, "k_key": key, "token": token, "k_message_id": message_id}
        return self.tx.execute(record_key_message, values).rowcount == 1

    def complete(self, scope: str, key: str, token: str, status: int, outcome: dict) -> bool:
        """Store the outcome under the key this attempt holds; False when it no longer holds it."""
        values = {"k_scope": scope, "k_key": key, "token": token, "k_status": status, "k_outcome": outcome}
        return self.tx.execute(complete_key, values).rowcount == 1

    def release(self, scope: str, key: str, token: str, now: datetime) -> None:
        """Give up a held key: forgotten when no message was stored under it, else lapsed at `now`."""
        values = {"k_scope": scope, "k_key": key, "token": token, "now": now}
        if not self.tx.execute(delete_unused_key, values).rowcount:
            self.tx.execute(lapse_key, values)

    def purge_expired(self, now: datetime) -> int:
        """Delete every key past its time; how many."""
        return self.tx.execute(purge_expired_keys, {"now": now}).rowcount
