"""The turns running in this process, and what keeps them true for every other worker and host.

One flusher per process, every FLUSH_S: the events the running turns produced since (one transaction
for all of them, however many turns run), the stops other workers asked of them, and, every
HEARTBEAT_S, their leases and idempotency reservations renewed. A turn's last write carries its own
remaining events, so a reader who sees a turn end has every event of it (ids are contiguous).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Protocol

from backend.services.idempotency import now
from backend.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

FLUSH_S = 0.05  # a follower on another worker sees an event at most this much later; so is a stop asked on
# another host, while one asked on this host rings the journal's doorbell (store.doorbell) and is heard at once
HEARTBEAT_EVERY = 20  # flushes: about once a second


class Running(Protocol):
    """What the journal needs of a running turn."""

    turn_id: str

    def held(self) -> tuple[tuple[str, str] | None, tuple[str, str, str] | None]:
        """Its lease (session_id, token) and idempotency reservation (scope, key, token), when held."""

    def request_stop(self, heard_chars: int | None) -> None:
        """Stop: asked by another worker."""


# Turns running in this process, by id: a stop or a follower in this process reaches them directly.
RUNNING: dict[str, Running] = {}
_lock = threading.Lock()


class TurnJournal:
    """Keeps the events of this process's running turns, their leases alive, and their stops heard."""

    def __init__(self, uow: UnitOfWork, *, lease_s: float):
        self.uow = uow
        self.lease_s = lease_s
        self._pending: list[tuple[str, int, str, str]] = []
        self._running: dict[str, Running] = {}  # this journal's turns (RUNNING holds every journal's)
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        # A thread counts as alive only once start() has returned, and under gevent start() waits for the new
        # greenlet: turns starting meanwhile each started a flusher of their own (50 turns started at once
        # made 50 flushers, each taking a connection every FLUSH_S). Held while one starts.
        self._starting = threading.Lock()

    def start(self, turn: Running) -> None:
        """`turn` runs in this process from now on."""
        with _lock:
            RUNNING[turn.turn_id] = self._running[turn.turn_id] = turn
        with self._starting:
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(target=self._loop, name="turn-journal", daemon=True)
                self._flusher.start()
        self._wake.set()

    def record(self, turn_id: str, seq: int, event: str, data: str) -> None:
        """An event `turn_id` sent (data as JSON text): kept at the next flush."""
        with _lock:
            self._pending.append((turn_id, seq, event, data))

    def take(self, turn_id: str) -> list[tuple[str, int, str, str]]:
        """`turn_id`'s events not flushed yet, handed to its last write instead."""
        with _lock:
            mine = [event for event in self._pending if event[0] == turn_id]
            self._pending = [event for event in self._pending if event[0] != turn_id]
        return mine

    def finish(self, turn_id: str) -> None:
        """`turn_id` no longer runs here."""
        with _lock:
            RUNNING.pop(turn_id, None)
            self._running.pop(turn_id, None)

    def _loop(self) -> None:
        flushes = 0
        while True:
            if not self._running and not self._pending:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self.uow.doorbell.wait(FLUSH_S)
            flushes += 1
            try:
                self.flush(heartbeat=flushes % HEARTBEAT_EVERY == 0)
            except Exception as exc:  # noqa: BLE001 - the flusher must outlive an outage; events wait for the next
                log.warning("turn journal flush failed: %s", exc)

    def flush(self, *, heartbeat: bool = True) -> None:
        """Write the pending events, renew the running turns' holds (with `heartbeat`), and pass on their stops."""
        with _lock:
            batch, self._pending = self._pending, []
            running = dict(self._running)
        write = bool(batch) or (heartbeat and bool(running))
        try:
            with self.uow.write() if write else self.uow.read() as store:
                store.turns.add_events(batch)
                if heartbeat and running:
                    self._renew(store, running.values())
                stops = store.turns.stop_requests(running)
        except Exception:
            with _lock:
                self._pending[:0] = batch  # kept for the next flush, in order
            raise
        for turn_id, heard_chars in stops.items():
            turn = running.get(turn_id)
            if turn is not None:
                turn.request_stop(heard_chars)

    def _renew(self, store, turns) -> None:
        holds = [turn.held() for turn in turns]
        until = now() + timedelta(seconds=self.lease_s)
        store.leases.renew([lease for lease, _ in holds if lease is not None], until)
        store.keys.renew([key for _, key in holds if key is not None], until)
