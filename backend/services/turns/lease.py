"""One turn at a time per session, across workers and hosts: a lease row taken in the turn's first
write and given back in its last, none held across the agent call; a lease whose worker died expires."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.services.errors import ReservationLost, TurnInProgress
from backend.services.idempotency import MAX_RETRY_AFTER_S
from backend.store import retry_statements as rs
from backend.store import statements as st
from backend.store.transaction import Transaction, transaction


@dataclass(frozen=True, slots=True)
class Lease:
    """A held turn: the session and the holder's token."""

    session_id: str
    token: str


class TurnLeases:
    """Leases of `lease_s` seconds: the agent timeout plus a margin for the turn's own writes."""

    def __init__(self, engine: sa.Engine, *, lease_s: float):
        self.engine = engine
        self.lease_s = lease_s
        self._take = rs.take_lease[engine.dialect.name]

    def acquire(self, session_id: str) -> Lease:
        """The lease on `session_id`, in a transaction of its own; TurnInProgress while another holds it."""
        with transaction(self.engine, write=True) as tx:
            return self.take(tx, session_id)

    def take(self, tx: Transaction, session_id: str) -> Lease:
        """In `tx`: the lease on `session_id`; TurnInProgress (with seconds to wait) while another holds it."""
        now = datetime.now(UTC)
        token = secrets.token_urlsafe(16)
        dialect = tx.dialect.name
        values = {
            "sid": session_id,
            "token": token,
            "now": stored_timestamp(now, dialect),
            "expires_at": stored_timestamp(now + timedelta(seconds=self.lease_s), dialect),
        }
        if tx.run(self._take, values).fetchone() is not None:
            return Lease(session_id, token)
        held = tx.execute(rs.select_lease, {"sid": session_id}).first()
        expires_at = st.TURN_LEASE.from_result_row(held).expires_at if held is not None else now
        raise TurnInProgress(session_id, min(MAX_RETRY_AFTER_S, max(1, math.ceil((expires_at - now).total_seconds()))))

    def give_back(self, tx: Transaction, lease: Lease) -> None:
        """In a turn's last write: end the lease; ReservationLost (rolling the write back) when it was taken
        over, so that a turn that outlived its lease never writes into the next one."""
        if tx.run(rs.give_back_lease, {"sid": lease.session_id, "token": lease.token}).fetchone() is None:
            raise ReservationLost("this turn outlived its lease and another turn began; its reply was not stored")

    def release(self, lease: Lease) -> None:
        """End the turn: the next one may begin at once (a lease already taken over is left alone)."""
        with transaction(self.engine, write=True) as tx:
            tx.execute(rs.release_lease, {"sid": lease.session_id, "token": lease.token})

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete leases whose holder died and nobody took over; how many."""
        with transaction(self.engine, write=True) as tx:
            return tx.execute(rs.purge_expired_leases, {"now": now or datetime.now(UTC)}).rowcount
