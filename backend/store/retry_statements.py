"""Statements of the retry machinery: idempotency keys and turn leases, built once from the models."""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend.store.statements import IDEMPOTENCY, TURN_LEASE, Precompiled, idempotency_keys, turn_leases

# -- idempotency keys: one row per (scope, key); in flight while status is NULL -------------------
# Bind names differ from the column names, which SQLAlchemy reserves in an UPDATE's SET clause.
_keys = idempotency_keys.c
_this_key = sa.and_(_keys.scope == sa.bindparam("k_scope"), _keys.key == sa.bindparam("k_key"))
_held_by = sa.and_(_this_key, _keys.holder == sa.bindparam("token"), _keys.status.is_(None))
_key_time = functools.partial(sa.bindparam, type_=_keys.expires_at.type)
select_key = IDEMPOTENCY.select().where(_this_key)
insert_key_if_absent = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(idempotency_keys)
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
    for dialect in (sqlite, postgresql)
}
# Past its time a key is forgotten: the same key then starts a new request.
delete_expired_key = idempotency_keys.delete().where(_this_key, _keys.expires_at < _key_time("now"))
# A reservation whose holder died (or gave up) lapses; one retry takes it over, atomically.
take_over_key = (
    idempotency_keys.update()
    .where(_this_key, _keys.status.is_(None), _keys.held_until < _key_time("now"))
    .values(holder=sa.bindparam("token"), held_until=_key_time("k_held_until"))
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

# -- turn leases: at most one row per session, taken when absent or expired ----------------------
_leases = turn_leases.c
_lease_time = functools.partial(sa.bindparam, type_=_leases.expires_at.type)
# A turn's hot path: precompiled, run with stored values (times as models.types.stored_timestamp).
take_lease = {
    dialect.__name__.rsplit(".", 1)[-1]: Precompiled(
        (
            lambda insert: insert.on_conflict_do_update(
                index_elements=[_leases.session_id],
                set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
                where=_leases.expires_at < _lease_time("now"),
            ).returning(_leases.holder)
        )(
            dialect.insert(turn_leases).values(
                session_id=sa.bindparam("sid"), holder=sa.bindparam("token"), expires_at=_lease_time("expires_at")
            )
        )
    )
    for dialect in (sqlite, postgresql)
}
select_lease = TURN_LEASE.select().where(_leases.session_id == sa.bindparam("sid"))
release_lease = turn_leases.delete().where(
    _leases.session_id == sa.bindparam("sid"), _leases.holder == sa.bindparam("token")
)
# Ends a turn in its last write: the row deleted is the proof that the lease was still this turn's
# (and locks it on PostgreSQL until that write commits, so a retry taking it over waits).
give_back_lease = Precompiled(release_lease.returning(_leases.session_id))
purge_expired_leases = turn_leases.delete().where(_leases.expires_at < _lease_time("now"))
