"""Operator maintenance: purging idle sessions in short batches, online backup of SQLite, compaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from backend.services.errors import InvalidInput
from backend.services.idempotency import now as current_time
from backend.settings import Config
from backend.store.engines import engine_for
from backend.store.maintenance import MaintenanceStore

PURGE_BATCH = 500

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class CompactReport:
    """Bytes the database took before and after compaction."""

    before: int
    after: int


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted, or would delete on a dry run."""

    cutoff: datetime
    sessions: int
    messages: int
    dry_run: bool
    expired_keys: int = 0  # idempotency keys past IDEMPOTENCY_TTL_S (and turn leases whose holder died)


class MaintenanceService:
    """Operator-only operations; each batch is its own short transaction."""

    def __init__(self, url_or_engine: str | sa.Engine | None = None, *, turn_events_ttl_s: float | None = None):
        config = Config() if url_or_engine is None or turn_events_ttl_s is None else None
        if url_or_engine is None:
            url_or_engine = config.DATABASE_URL
        self.turn_events_ttl_s = turn_events_ttl_s if turn_events_ttl_s is not None else config.TURN_EVENTS_TTL_S
        self.engine = engine_for(url_or_engine)
        self.store = MaintenanceStore(self.engine)

    def purge_idle_sessions(
        self, idle_days: float, *, dry_run: bool = False, now: datetime | None = None, progress: Progress | None = None
    ) -> PurgeReport:
        """Delete sessions (and their messages) whose last activity is older than `idle_days`;
        progress(sessions, total) per batch."""
        if isinstance(idle_days, bool) or not isinstance(idle_days, (int, float)) or idle_days < 0:
            raise InvalidInput({"idle_days": ["must be a number of days, 0 or more"]})
        cutoff = (now or current_time()) - timedelta(days=idle_days)
        if dry_run:
            return PurgeReport(cutoff, *self.store.count_idle(cutoff), dry_run=True)
        total_sessions = total_messages = 0
        expected = self.store.count_idle(cutoff)[0] if progress else 0
        while True:
            deleted = self.store.delete_idle_batch(cutoff, PURGE_BATCH)
            if deleted is None:
                break
            sessions, messages = deleted
            total_sessions, total_messages = total_sessions + sessions, total_messages + messages
            if progress:
                progress(total_sessions, max(expected, total_sessions))
        expired = self.purge_expired_keys(now)
        return PurgeReport(cutoff, total_sessions, total_messages, dry_run=False, expired_keys=expired)

    def purge_expired_keys(self, now: datetime | None = None) -> int:
        """Delete idempotency keys past their time, turn leases whose holder died, and the events of turns ended
        more than TURN_EVENTS_TTL_S ago; how many keys."""
        now = now or current_time()
        return self.store.delete_expired(now, now - timedelta(seconds=self.turn_events_ttl_s))

    def backup_sqlite(self, destination: str | Path, progress: Progress | None = None) -> dict[str, int]:
        """A consistent, standalone copy of the live SQLite database (safe while others write); row counts copied."""
        if not self.store.is_sqlite:
            raise InvalidInput({"database": ["online backup is for SQLite; use pg_dump for PostgreSQL"]})
        destination = Path(destination)
        if destination.exists():
            raise InvalidInput({"destination": [f"{destination} exists; refusing to overwrite it"]})
        destination.parent.mkdir(parents=True, exist_ok=True)
        return self.store.backup(destination, progress)

    def compact(self) -> CompactReport:
        """Give the space freed by deletes back (SQLite: VACUUM; PostgreSQL: VACUUM ANALYZE of both tables)."""
        return CompactReport(*self.store.compact())
