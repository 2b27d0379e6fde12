"""Idempotency keys: a request sent again with its key returns the first outcome, with no new effect.

Semantics of the IETF httpapi Idempotency-Key draft. A single-transaction request (an append, a
session) claims its key and stores its outcome in the transaction of its effect. A turn spans
several transactions around the agent call: it reserves its key (in flight, with a deadline),
records its stored user message, and completes with its outcome; a reservation whose worker died
lapses at its deadline and the next retry takes it over, reusing the stored user message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.services.errors import IdempotencyKeyReused, RequestInFlight, ReservationLost
from backend.store.records import IdempotencyRecord
from backend.store.unit_of_work import StoreTransaction, UnitOfWork

DEFAULT_TTL_S = 24 * 3600.0
# Retry-After never says more than this: the attempt in flight usually ends long before its deadline.
MAX_RETRY_AFTER_S = 5


def now() -> datetime:
    """The current time, aware UTC: what every time the services write is taken from."""
    return datetime.now(UTC)


def retry_after_s(moment: datetime | None, current: datetime) -> int:
    """Whole seconds until `moment` (1 when unknown or past), at most MAX_RETRY_AFTER_S."""
    if moment is None:
        return 1
    return min(MAX_RETRY_AFTER_S, max(1, math.ceil((moment - current).total_seconds())))


def key_scope(session_id: str | None, owner: str | None = None) -> str:
    """Whose keys a key is told apart among: the caller (owner), or the session in `none` mode."""
    return f"owner:{owner}" if owner is not None else f"session:{session_id or ''}"


def request_hash(operation: str, **params: Any) -> str:
    """The fingerprint of a request: its operation and parameters (values such as NewMessage whole, every field
    of them), canonical JSON, sha256."""
    params = {name: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for name, v in params.items()}
    canonical = json.dumps([operation, params], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """This attempt's hold on a key: its token, the stored user message of an earlier attempt, or
    `replay`, the stored outcome of a request that already finished (then nothing is held)."""

    scope: str
    key: str
    token: str
    message_id: int | None = None
    replay: IdempotencyRecord | None = None


class IdempotencyKeys:
    """Claims, completes and forgets idempotency keys; keys are kept `ttl_s` seconds."""

    def __init__(self, uow: UnitOfWork, *, ttl_s: float = DEFAULT_TTL_S):
        self.uow = uow
        self.ttl_s = ttl_s

    # -- inside the transaction of the effect -----------------------------------------------------

    def claim(self, store: StoreTransaction, scope: str, key: str, request_hash: str, *, hold_s: float = 0.0) -> Claim:
        """Claim `key` in `store`'s transaction; a Claim with `replay` when it already has an outcome.

        IdempotencyKeyReused when it was used for another request; RequestInFlight while another
        attempt holds it; a lapsed reservation is taken over (its message_id comes with it).
        """
        current, token = now(), secrets.token_urlsafe(16)
        held_until, expires_at = current + timedelta(seconds=hold_s), current + timedelta(seconds=self.ttl_s)
        if store.keys.insert_if_absent(scope, key, request_hash, token, current, held_until, expires_at):
            return Claim(scope, key, token)
        # PostgreSQL: the insert waited for a concurrent first attempt to commit, so this sees it.
        stored = store.keys.get(scope, key)
        if stored.request_hash != request_hash:
            raise IdempotencyKeyReused(key)
        if stored.status is not None:
            return Claim(scope, key, token, replay=stored)
        if store.keys.take_over(scope, key, token, current, held_until):
            return Claim(scope, key, token, message_id=stored.message_id)
        raise RequestInFlight(retry_after_s(stored.held_until, current))

    def record_message(self, store: StoreTransaction, claim: Claim, message_id: int) -> None:
        """Note in `store`'s transaction the user message a turn stored, so that a retry reuses it."""
        if not store.keys.record_message(claim.scope, claim.key, claim.token, message_id):
            raise ReservationLost()

    def complete(self, store: StoreTransaction, claim: Claim, status: int, outcome: dict) -> None:
        """Store the outcome in the transaction of the effect; ReservationLost (rolling it back) when taken over."""
        if not store.keys.complete(claim.scope, claim.key, claim.token, status, outcome):
            raise ReservationLost()

    # -- a turn: its own short transactions ---------------------------------------------------------

    def reserve(self, scope: str, key: str, request_hash: str, *, hold_s: float) -> Claim:
        """Claim `key` for a turn in a transaction of its own, held for `hold_s` seconds."""
        with self.uow.write() as store:
            return self.claim(store, scope, key, request_hash, hold_s=hold_s)

    def release(self, claim: Claim) -> None:
        """Give up a reservation that did not complete: forgotten when nothing was stored yet, else
        lapsed at once, so that a retry takes it over and reuses the stored user message."""
        if claim.replay is not None:
            return
        with self.uow.write() as store:
            store.keys.release(claim.scope, claim.key, claim.token, now())
