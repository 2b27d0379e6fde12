"""Operator maintenance in the store: idle sessions found and deleted in batches, expired keys and leases,
SQLite's online backup, compaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.store.repositories.dependents import delete_dependents
from backend.store.sql import messages, sessions
from backend.store.transaction import transaction
from backend.store.unit_of_work import UnitOfWork

BACKUP_STEP_PAGES = 4096  # 16 MiB of 4 KiB pages per step of a backup, between progress reports
BACKUP_RESTARTS = 3  # writes restart a stepped backup; after this many, copy in one step instead

Progress = Callable[[int, int], None]  # (done, total)


class _RestartedTooOften(Exception):
    pass


def _idle_condition(dialect_name: str, cutoff: datetime):
    last_active = sessions.c.last_active
    if dialect_name != "sqlite":
        return last_active < sa.bindparam("cutoff", cutoff, type_=last_active.type)
    # Legacy SQLite rows may hold epoch numbers, which sort below every text: compare each
    # storage class with the cutoff in its own form (two index ranges), so that no recently
    # active legacy session is purged.
    as_text, as_number = sa.type_coerce(last_active, sa.Text), sa.type_coerce(last_active, sa.Float)
    return sa.or_(
        sa.and_(as_text >= "", as_text < stored_timestamp(cutoff, dialect_name)),
        as_number < cutoff.timestamp(),
    )


class MaintenanceStore:
    """The operator's statements on one engine; each call is its own short transaction."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is a SQLite file (online backup is SQLite's)."""
        return self.engine.dialect.name == "sqlite"

    def count_idle(self, cutoff: datetime) -> tuple[int, int]:
        """Sessions last active before `cutoff`, and their messages."""
        idle_ids = sa.select(sessions.c.session_id).where(_idle_condition(self.engine.dialect.name, cutoff))
        with transaction(self.engine, write=False) as tx:
            session_count = tx.execute(sa.select(sa.func.count()).select_from(idle_ids.subquery())).scalar_one()
            message_count = tx.execute(
                sa.select(sa.func.count()).select_from(messages).where(messages.c.session_id.in_(idle_ids))
            ).scalar_one()
        return session_count, message_count

    def delete_idle_batch(self, cutoff: datetime, batch: int) -> tuple[int, int] | None:
        """Delete up to `batch` sessions last active before `cutoff`, with their messages; how many of each,
        None when none was left."""
        idle = _idle_condition(self.engine.dialect.name, cutoff)
        with transaction(self.engine, write=True) as tx:
            # FOR UPDATE: PostgreSQL waits for, then re-checks, a session being written to right
            # now, so one that just became active is not purged with its new message.
            found = tx.execute(sa.select(sessions.c.session_id).where(idle).limit(batch).with_for_update())
            ids = found.scalars().all()
            if not ids:
                return None
            delete_dependents(tx, list(ids))
            deleted_messages = tx.execute(messages.delete().where(messages.c.session_id.in_(ids))).rowcount
            return tx.execute(sessions.delete().where(sessions.c.session_id.in_(ids))).rowcount, deleted_messages

    def delete_expired(self, now: datetime, turn_events_ended_before: datetime) -> int:
        """Delete idempotency keys past their time, turn leases whose holder died, and the events of turns that
        ended before `turn_events_ended_before`; how many keys."""
        with UnitOfWork(self.engine).write() as store:
            store.leases.purge_expired(now)
            store.turns.forget_events(turn_events_ended_before)
            return store.keys.purge_expired(now)

    def backup(self, destination: Path, progress: Progress | None = None) -> dict[str, int]:
        """A consistent, standalone copy of the live SQLite database at `destination`; row counts copied."""
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

    def compact(self) -> tuple[int, int]:
        """Give the space freed by deletes back (SQLite: VACUUM; PostgreSQL: VACUUM ANALYZE of both tables);
        the bytes the database took before and after."""
        before = self._size()
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            if self.is_sqlite:
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
        return before, self._size()

    def _size(self) -> int:
        if self.is_sqlite:
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
