"""Readiness: the database answers and its schema is at the newest migration."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import sqlalchemy as sa

from backend.store.transaction import transaction
from backend.store.migrations import database_revision, head_revision
from backend.services.errors import StoreUnavailable


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


def check_ready(engine: sa.Engine) -> str:
    """The database's revision when it is reachable and at head; StoreUnavailable with the reason otherwise."""
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
    return current


def _sqlite_file_writable(engine: sa.Engine) -> bool:
    """False when this process may not write a SQLite file or create its -wal/-shm files beside it."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return True
    path = Path(database)
    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
