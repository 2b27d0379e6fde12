"""One turn at a time per session, across workers and hosts: a lease row taken in the turn's first
write and given back in its last, none held across the agent call; a lease whose worker died expires."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from backend.services.errors import ReservationLost, TurnInProgress
from backend.services.idempotency import now, retry_after_s
from backend.store.unit_of_work import StoreTransaction, UnitOfWork


@dataclass(frozen=True, slots=True)
class Lease:
    """A held turn: the session and the holder's token."""

    session_id: str
    token: str


class TurnLeases:
    """Leases of `lease_s` seconds: the agent timeout plus a margin for the turn's own writes."""

    def __init__(self, uow: UnitOfWork, *, lease_s: float):
        self.uow = uow
        self.lease_s = lease_s

    def take(self, store: StoreTransaction, session_id: str) -> Lease:
        """In `store`'s transaction: the lease on `session_id`; TurnInProgress (with seconds to wait) while
        another holds it."""
        current, token = now(), secrets.token_urlsafe(16)
        if store.leases.take(session_id, token, current, current + timedelta(seconds=self.lease_s)):
            return Lease(session_id, token)
        raise TurnInProgress(session_id, retry_after_s(store.leases.expiry(session_id), current))

    def give_back(self, store: StoreTransaction, lease: Lease) -> None:
        """In a turn's last write: end the lease; ReservationLost (rolling the write back) when it was taken
        over, so that a turn that outlived its lease never writes into the next one."""
        if not store.leases.give_back(lease.session_id, lease.token):
            raise ReservationLost("this turn outlived its lease and another turn began; its reply was not stored")

    def release(self, lease: Lease) -> None:
        """End the turn: the next one may begin at once (a lease already taken over is left alone)."""
        with self.uow.write() as store:
            store.leases.release(lease.session_id, lease.token)
