"""A turn's guard: one turn at a time per session (TurnLeases) and, with an Idempotency-Key, exactly once
(IdempotencyKeys).

    with guard.begin(session_id, idempotency_key, request_hash(...)) as turn:
        if turn.replay is not None: return the stored outcome
        start = open_turn(uow, new, turn, history_limit)        (turns.writes)
        ... ask the agent (no transaction open) ...
        store_reply(uow, reply, turn, outcome)                 (turns.writes)

Leaving the block without finish() (an error, a failed agent) gives the key back: forgotten if no
message was stored, else lapsed at once, so that a retry reuses the stored user message and asks
the agent again. The lease is given back in every case.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from backend.services.errors import SessionStoreError
from backend.services.idempotency import Claim, IdempotencyKeys, key_scope
from backend.services.turns.lease import Lease, TurnLeases
from backend.store.records import MessageRecord
from backend.store.unit_of_work import StoreTransaction, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Turn:
    """The guard of one turn: `replay` is the stored outcome of a finished turn with this key (then nothing is held)."""

    session_id: str
    claim: Claim | None = None
    keys: IdempotencyKeys | None = None
    replay: dict | None = None
    leases: TurnLeases | None = None
    lease: Lease | None = None  # from the commit of the turn's first write until the commit of its last
    finished: bool = False

    @property
    def message_id(self) -> int | None:
        """The user message an earlier attempt with this key stored, to be reused."""
        return self.claim.message_id if self.claim is not None else None

    def hold(self, store: StoreTransaction) -> None:
        """In the turn's first write: take the session's lease (TurnInProgress while another turn holds it)."""
        lease = self.leases.take(store, self.session_id)
        store.on_commit(lambda: setattr(self, "lease", lease))

    def note_message(self, store: StoreTransaction, message: MessageRecord) -> None:
        """In the user message's transaction: remember the message under the key."""
        if self.claim is not None:
            self.keys.record_message(store, self.claim, message.id)

    def end_lease(self, store: StoreTransaction) -> None:
        """First in the reply's transaction: give the lease back; ReservationLost when it was taken over."""
        self.leases.give_back(store, self.lease)
        store.on_commit(lambda: setattr(self, "lease", None))

    def finish(self, store: StoreTransaction, outcome: dict, status: int = 200) -> None:
        """In the reply's transaction: store the turn's outcome under the key."""
        if self.claim is not None:
            self.keys.complete(store, self.claim, status, outcome)
        store.on_commit(lambda: setattr(self, "finished", True))


class TurnGuard:
    """Begins guarded turns; a lease lasts `lease_s` (the agent timeout plus a margin)."""

    def __init__(self, uow: UnitOfWork, keys: IdempotencyKeys, *, lease_s: float):
        self.keys = keys
        self.leases = TurnLeases(uow, lease_s=lease_s)

    @contextmanager
    def begin(
        self, session_id: str, idempotency_key: str | None, request_hash: str, owner: str | None = None
    ) -> Iterator[Turn]:
        """Reserve the key (RequestInFlight, IdempotencyKeyReused), or yield the replay of a finished turn
        with this key. The lease is taken and given back by the turn's own writes (hold, end_lease); a turn
        that ends otherwise gives it back here."""
        claim = None
        if idempotency_key is not None:
            claim = self.keys.reserve(
                key_scope(session_id, owner), idempotency_key, request_hash, hold_s=self.leases.lease_s
            )
            if claim.replay is not None:
                yield Turn(session_id, replay=claim.replay.outcome)
                return
        turn = Turn(session_id, claim, self.keys, leases=self.leases)
        try:
            yield turn
        except BaseException:
            if claim is not None:
                _quietly(self.keys.release, claim)
            raise
        else:
            if claim is not None and not turn.finished:
                _quietly(self.keys.release, claim)
        finally:
            if turn.lease is not None:
                _quietly(self.leases.release, turn.lease)


def _quietly(release: Callable, held) -> None:
    # A lease or key that cannot be given back now (the database is away) lapses at its deadline;
    # the turn's own outcome, or its own error, is what the caller must see.
    try:
        release(held)
    except SessionStoreError as exc:
        log.warning("could not release %s: %s; it lapses at its deadline", type(held).__name__, exc)
