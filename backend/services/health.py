"""Readiness: the database answers, its schema is at the newest migration, and it can take writes."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.services.errors import StoreUnavailable
from backend.store import retry_statements as rs
from backend.store.errors import DISK_FULL_REASON, disk_full_since
from backend.store.migrations import database_revision, head_revision
from backend.store.transaction import transaction


@functools.cache
def _head() -> str:
    # Reading the migration scripts costs milliseconds; they do not change while a process runs.
    return head_revision()


def check_agent_capacity(gate) -> None:
    """StoreUnavailable (not ready) while agent calls past their deadline hold slots of this worker."""
    hung = gate.hung()
    if hung:
        raise StoreUnavailable(
            f"{hung} of this worker's {gate.limit} agent calls are hung past their deadline and hold their slots"
        )


def check_ready(engine: sa.Engine, min_free_disk_mb: float = 0.0) -> str:
    """The database's revision when it is reachable, at head and writable with room to spare; StoreUnavailable with
    the reason otherwise."""
    try:
        with transaction(engine, write=False) as tx:
            current = database_revision(tx.connection)
    except sa.exc.DBAPIError as exc:
        # Anything else the driver raises (e.g. a table missing) still means "not ready", never a 500.
        raise StoreUnavailable("the database cannot be queried") from exc
    if current is None:
        raise StoreUnavailable("the database has not been migrated: run `alembic upgrade head`")
    if current != _head():
        raise StoreUnavailable(f"the database is at revision {current}, not {_head()}: run `alembic upgrade head`")
    if not _sqlite_file_writable(engine):
        # Reads still work then, but every write answers 503: not ready.
        raise StoreUnavailable("the database file or its directory is read-only")
    if disk_full_since() is not None and not _write_probe_succeeds(engine):
        raise StoreUnavailable(DISK_FULL_REASON.split(":")[0] + ": writes are refused until space is freed")
    free_mb = free_disk_mb(engine)
    if free_mb is not None and free_mb < min_free_disk_mb:
        raise StoreUnavailable(
            f"free space on the database's filesystem is {free_mb:.1f} MB, below MIN_FREE_DISK_MB "
            f"({min_free_disk_mb:g} MB)"
        )
    return current


def _write_probe_succeeds(engine: sa.Engine) -> bool:
    """After a write was refused for lack of space: does one small write commit now? (Only then: a probe writes.)"""
    now = stored_timestamp(datetime.now(UTC), engine.dialect.name)
    probe = {"sid": " readiness probe ", "token": "probe", "now": now, "expires_at": now}
    try:
        with transaction(engine, write=True) as tx:
            tx.run(rs.take_lease[engine.dialect.name], probe)
            tx.execute(rs.release_lease, probe)
    except StoreUnavailable:
        return False
    return True


def free_disk_mb(engine: sa.Engine) -> float | None:
    """Free space (MB) on the filesystem of a SQLite database file; None for a server database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    stats = os.statvfs(Path(database).parent)
    return stats.f_bavail * stats.f_frsize / (1024 * 1024)


def _sqlite_file_writable(engine: sa.Engine) -> bool:
    """False when this process may not write a SQLite file or create its -wal/-shm files beside it."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return True
    path = Path(database)
    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
