"""Operator maintenance: purging idle sessions in short batches, online backup of SQLite, compaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from backend.models.types import STORED_TIMESTAMP_FORMAT
from backend.services.errors import InvalidInput
from backend.settings import Config
from backend.store import retry_statements as rs
from backend.store.engines import engine_for
from backend.store.statements import messages, sessions
from backend.store.transaction import transaction

PURGE_BATCH = 500
BACKUP_STEP_PAGES = 4096  # 16 MiB of 4 KiB pages per step of a backup, between progress reports
BACKUP_RESTARTS = 3  # writes restart a stepped backup; after this many, copy in one step instead

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class CompactReport:
    """Bytes the database took before and after compaction."""

    before: int
    after: int


class _RestartedTooOften(Exception):
    pass


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted, or would delete on a dry run."""

    cutoff: datetime
    sessions: int
    messages: int
    dry_run: bool
    expired_keys: int = 0  # idempotency keys past IDEMPOTENCY_TTL_S (and turn leases whose holder died)


def _idle_condition(dialect_name: str, cutoff: datetime):
    last_active = sessions.c.last_active
    if dialect_name != "sqlite":
        return last_active < sa.bindparam("cutoff", cutoff, type_=last_active.type)
    # Legacy SQLite rows may hold epoch numbers, which sort below every text: compare each
    # storage class with the cutoff in its own form (two index ranges), so that no recently
    # active legacy session is purged.
    as_text, as_number = sa.type_coerce(last_active, sa.Text), sa.type_coerce(last_active, sa.Float)
    return sa.or_(
        sa.and_(as_text >= "", as_text < cutoff.astimezone(UTC).strftime(STORED_TIMESTAMP_FORMAT)),
        as_number < cutoff.timestamp(),
    )


class MaintenanceService:
    """Operator-only operations; each batch is its own short transaction."""

    def __init__(self, url_or_engine: str | sa.Engine | None = None):
        if url_or_engine is None:
            url_or_engine = Config().DATABASE_URL
        self.engine = engine_for(url_or_engine)

    def purge_idle_sessions(
        self, idle_days: float, *, dry_run: bool = False, now: datetime | None = None, progress: Progress | None = None
    ) -> PurgeReport:
        """Delete sessions (and their messages) whose last activity is older than `idle_days`; progress(sessions,
        total) per batch."""
        if isinstance(idle_days, bool) or not isinstance(idle_days, (int, float)) or idle_days < 0:
            raise InvalidInput({"idle_days": ["must be a number of days, 0 or more"]})
        cutoff = (now or datetime.now(UTC)) - timedelta(days=idle_days)
        idle = _idle_condition(self.engine.dialect.name, cutoff)
        if dry_run:
            return self._count_idle(idle, cutoff)
        total_sessions = total_messages = 0
        expected = self._count_idle(idle, cutoff).sessions if progress else 0
        while True:
            with transaction(self.engine, write=True) as tx:
                # FOR UPDATE: PostgreSQL waits for, then re-checks, a session being written to right
                # now, so one that just became active is not purged with its new message.
                batch = (
                    tx.execute(sa.select(sessions.c.session_id).where(idle).limit(PURGE_BATCH).with_for_update())
                    .scalars()
                    .all()
                )
                if not batch:
                    break
                total_messages += tx.execute(messages.delete().where(messages.c.session_id.in_(batch))).rowcount
                total_sessions += tx.execute(sessions.delete().where(sessions.c.session_id.in_(batch))).rowcount
            if progress:
                progress(total_sessions, max(expected, total_sessions))
        return PurgeReport(
            cutoff, total_sessions, total_messages, dry_run=False, expired_keys=self.purge_expired_keys(now)
        )

    def purge_expired_keys(self, now: datetime | None = None) -> int:
        """Delete idempotency keys past their time, and turn leases whose holder died; how many keys."""
        now = now or datetime.now(UTC)
        with transaction(self.engine, write=True) as tx:
            tx.execute(rs.purge_expired_leases, {"now": now})
            return tx.execute(rs.purge_expired_keys, {"now": now}).rowcount

    def _count_idle(self, idle, cutoff: datetime) -> PurgeReport:
        idle_ids = sa.select(sessions.c.session_id).where(idle)
        with transaction(self.engine, write=False) as tx:
            session_count = tx.execute(sa.select(sa.func.count()).select_from(idle_ids.subquery())).scalar_one()
            message_count = tx.execute(
                sa.select(sa.func.count()).select_from(messages).where(messages.c.session_id.in_(idle_ids))
            ).scalar_one()
        return PurgeReport(cutoff, session_count, message_count, dry_run=True)

    def backup_sqlite(self, destination: str | Path, progress: Progress | None = None) -> dict[str, int]:
        """A consistent, standalone copy of the live SQLite database (safe while others write); row counts copied."""
        if self.engine.dialect.name != "sqlite":
            raise InvalidInput({"database": ["online backup is for SQLite; use pg_dump for PostgreSQL"]})
        destination = Path(destination)
        if destination.exists():
            raise InvalidInput({"destination": [f"{destination} exists; refusing to overwrite it"]})
        destination.parent.mkdir(parents=True, exist_ok=True)
        with self.engine.connect() as conn:
            # SQLite's backup API copies one snapshot; in WAL mode writers carry on meanwhile.
            target = sqlite3.connect(destination)
            try:
                _backup(conn.connection.driver_connection, target, progress)
                # The copy is one file: not in WAL mode, which would want -wal/-shm files beside it.
                target.execute("PRAGMA journal_mode = DELETE").fetchone()
                counts = {
                    t: target.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("sessions", "chat_history")
                }
            finally:
                target.close()
        return counts

    def compact(self) -> CompactReport:
        """Give the space freed by deletes back (SQLite: VACUUM; PostgreSQL: VACUUM ANALYZE of both tables)."""
        before = self._size()
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            if self.engine.dialect.name == "sqlite":
                raw.execute("VACUUM")
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            else:
                autocommit = raw.autocommit
                raw.autocommit = True  # VACUUM cannot run inside a transaction
                try:
                    for table in (messages.name, sessions.name):
                        raw.execute(f"VACUUM (ANALYZE) {table}")
                finally:
                    raw.autocommit = autocommit
        return CompactReport(before, self._size())

    def _size(self) -> int:
        if self.engine.dialect.name == "sqlite":
            path = Path(self.engine.url.database)
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        with transaction(self.engine, write=False) as tx:
            return tx.execute(
                sa.text("SELECT pg_total_relation_size('sessions') + pg_total_relation_size('chat_history')")
            ).scalar_one()


def _backup(source: sqlite3.Connection, target: sqlite3.Connection, progress: Progress | None) -> None:
    if progress is None:
        source.backup(target)
        return
    last = {"remaining": None, "restarts": 0}

    def report(_status: int, remaining: int, total: int) -> None:
        if last["remaining"] is not None and remaining > last["remaining"]:
            last["restarts"] += 1  # another connection wrote: SQLite started the copy over
            if last["restarts"] >= BACKUP_RESTARTS:
                raise _RestartedTooOften()
        last["remaining"] = remaining
        progress(total - remaining, total)

    try:
        source.backup(target, pages=BACKUP_STEP_PAGES, progress=report)
    except _RestartedTooOften:
        source.backup(target)  # one step: one snapshot, whatever the writers do
        pages = target.execute("PRAGMA page_count").fetchone()[0]
        progress(pages, pages)
