"""Turn leases: at most one row per session, taken when absent or expired, deleted when the turn ends."""

from __future__ import annotations

import functools
from datetime import datetime

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.store.repositories import Repository
from backend.store.sql import TURN_LEASE, Precompiled, per_dialect, turn_leases

_leases = turn_leases.c
_lease_time = functools.partial(sa.bindparam, type_=_leases.expires_at.type)
_this_lease = sa.and_(_leases.session_id == sa.bindparam("sid"), _leases.holder == sa.bindparam("token"))
# A turn's hot path: precompiled, run with stored values (times as models.types.stored_timestamp).
take_lease = per_dialect(
    lambda dialect: Precompiled(
        (
            insert := dialect.insert(turn_leases).values(
                session_id=sa.bindparam("sid"), holder=sa.bindparam("token"), expires_at=_lease_time("expires_at")
            )
        )
        .on_conflict_do_update(
            index_elements=[_leases.session_id],
            set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
            where=_leases.expires_at < _lease_time("now"),
        )
        .returning(_leases.holder)
    )
)
select_lease = TURN_LEASE.select().where(_leases.session_id == sa.bindparam("sid"))
release_lease = turn_leases.delete().where(_this_lease)
# Ends a turn in its last write: the row deleted is the proof that the lease was still this turn's
# (and locks it on PostgreSQL until that write commits, so a retry taking it over waits).
give_back_lease = Precompiled(release_lease.returning(_leases.session_id))
# One statement for every lease a process renews (a list of rows is a round trip each on PostgreSQL, each
# waiting for gevent's loop: see turns.insert_events_unnested).
renew_leases = (
    turn_leases.update()
    .where(sa.tuple_(_leases.session_id, _leases.holder).in_(sa.bindparam("held", expanding=True)))
    .values(expires_at=_lease_time("expires_at"))
)
purge_expired_leases = turn_leases.delete().where(_leases.expires_at < _lease_time("now"))


class TurnLeaseRepository(Repository):
    """Leases by session; a holder proves itself by its token."""

    __slots__ = ()

    def take(self, session_id: str, token: str, now: datetime, expires_at: datetime) -> bool:
        """Hold the session's lease until `expires_at` unless another holder's has not expired; whether it did."""
        dialect = self.tx.dialect.name
        values = {
            "sid": session_id,
            "token": token,
            "now": stored_timestamp(now, dialect),
            "expires_at": stored_timestamp(expires_at, dialect),
        }
        return self.tx.run(take_lease[dialect], values).fetchone() is not None

    def expiry(self, session_id: str) -> datetime | None:
        """When the session's current lease lapses; None when none is held."""
        row = self.tx.execute(select_lease, {"sid": session_id}).first()
        return None if row is None else TURN_LEASE.from_result_row(row).expires_at

    def give_back(self, session_id: str, token: str) -> bool:
        """End the lease `token` holds, locking it until commit; False when another holder took it over."""
        return self.tx.run(give_back_lease, {"sid": session_id, "token": token}).fetchone() is not None

    def renew(self, held: list[tuple[str, str]], expires_at: datetime) -> None:
        """Extend the leases `held` (session_id, token) still holds until `expires_at` (a running turn's heartbeat)."""
        if held:
            self.tx.execute(renew_leases, {"held": list(held), "expires_at": expires_at})

    def release(self, session_id: str, token: str) -> None:
        """End the lease `token` holds, if it still does."""
        self.tx.execute(release_lease, {"sid": session_id, "token": token})

    def purge_expired(self, now: datetime) -> int:
        """Delete leases whose holder died and nobody took over; how many."""
        return self.tx.execute(purge_expired_leases, {"now": now}).rowcount
