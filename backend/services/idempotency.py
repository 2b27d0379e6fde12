"""Idempotency keys: a request sent again with its key returns the first outcome, with no new effect.

Semantics of the IETF httpapi Idempotency-Key draft. A single-transaction request (an append, a
session) claims its key and stores its outcome in the transaction of its effect. A turn spans
several transactions around the agent call: it reserves its key (in flight, with a deadline),
records its stored user message, and completes with its outcome; a reservation whose worker died
lapses at its deadline and the next retry takes it over, reusing the stored user message.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from backend.services.errors import IdempotencyKeyReused, RequestInFlight, ReservationLost
from backend.store import retry_statements as rs
from backend.store import statements as st
from backend.store.records import IdempotencyRecord
from backend.store.transaction import Transaction, transaction

DEFAULT_TTL_S = 24 * 3600.0
# Retry-After never says more than this: the attempt in flight usually ends long before its deadline.
MAX_RETRY_AFTER_S = 5


def key_scope(session_id: str | None, owner: str | None = None) -> str:
    """Whose keys a key is told apart among: the caller (owner), or the session in `none` mode."""
    # Owner scoping is this one line: once callers have an owner, pass it here.
    return f"owner:{owner}" if owner is not None else f"session:{session_id or ''}"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Claim:
    """This attempt's hold on a key: its token, the stored user message of an earlier attempt, or
    `replay`, the stored outcome of a request that already finished (then nothing is held)."""

    scope: str
    key: str
    token: str
    message_id: int | None = None
    replay: IdempotencyRecord | None = None

    def params(self, **more) -> dict:
        """Bind values naming this claim."""
        return {"k_scope": self.scope, "k_key": self.key, "token": self.token, **more}


class IdempotencyKeys:
    """Claims, completes and forgets idempotency keys; keys are kept `ttl_s` seconds."""

    def __init__(self, engine: sa.Engine, *, ttl_s: float = DEFAULT_TTL_S):
        self.engine = engine
        self.ttl_s = ttl_s
        self._insert = rs.insert_key_if_absent[engine.dialect.name]

    # -- inside the transaction of the effect -----------------------------------------------------

    def claim(self, tx: Transaction, scope: str, key: str, request_hash: str, *, hold_s: float = 0.0) -> Claim:
        """Claim `key` in `tx`; a Claim with `replay` when it already has an outcome.

        IdempotencyKeyReused when it was used for another request; RequestInFlight while another
        attempt holds it; a lapsed reservation is taken over (its message_id comes with it).
        """
        now = _now()
        token = secrets.token_urlsafe(16)
        base = {"k_scope": scope, "k_key": key, "now": now}
        tx.execute(rs.delete_expired_key, base)
        values = {
            **base,
            "k_hash": request_hash,
            "token": token,
            "k_held_until": now + timedelta(seconds=hold_s),
            "k_expires_at": now + timedelta(seconds=self.ttl_s),
        }
        if tx.execute(self._insert, values).first() is not None:
            return Claim(scope, key, token)
        # PostgreSQL: the insert waited for a concurrent first attempt to commit, so this sees it.
        stored = st.IDEMPOTENCY.from_result_row(tx.execute(rs.select_key, base).one())
        if stored.request_hash != request_hash:
            raise IdempotencyKeyReused(key)
        if stored.status is not None:
            return Claim(scope, key, token, replay=stored)
        if tx.execute(rs.take_over_key, values).rowcount == 1:
            return Claim(scope, key, token, message_id=stored.message_id)
        raise RequestInFlight(_seconds_until(stored.held_until, now))

    def record_message(self, tx: Transaction, claim: Claim, message_id: int) -> None:
        """Note in `tx` the user message a turn stored, so that a retry reuses it."""
        if tx.execute(rs.record_key_message, claim.params(k_message_id=message_id)).rowcount != 1:
            raise ReservationLost()

    def complete(self, tx: Transaction, claim: Claim, status: int, outcome: dict) -> None:
        """Store the outcome in `tx`, the transaction of the effect; ReservationLost (rolling it back) when taken
        over."""
        if tx.execute(rs.complete_key, claim.params(k_status=status, k_outcome=outcome)).rowcount != 1:
            raise ReservationLost()

    # -- a turn: its own short transactions ---------------------------------------------------------

    def reserve(self, scope: str, key: str, request_hash: str, *, hold_s: float) -> Claim:
        """Claim `key` for a turn in a transaction of its own, held for `hold_s` seconds."""
        with transaction(self.engine, write=True) as tx:
            return self.claim(tx, scope, key, request_hash, hold_s=hold_s)

    def release(self, claim: Claim) -> None:
        """Give up a reservation that did not complete: forgotten when nothing was stored yet, else
        lapsed at once, so that a retry takes it over and reuses the stored user message."""
        if claim.replay is not None:
            return
        with transaction(self.engine, write=True) as tx:
            if not tx.execute(rs.delete_unused_key, claim.params()).rowcount:
                tx.execute(rs.lapse_key, claim.params(now=_now()))

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete every key past its time; how many."""
        with transaction(self.engine, write=True) as tx:
            return tx.execute(rs.purge_expired_keys, {"now": now or _now()}).rowcount


def _seconds_until(moment: datetime | None, now: datetime) -> int:
    return min(MAX_RETRY_AFTER_S, max(1, math.ceil((moment - now).total_seconds()))) if moment is not None else 1
