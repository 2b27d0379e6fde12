"""The two databases the suite runs on: a SQLite file per test, and a PostgreSQL schema per run."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import sqlalchemy as sa

from backend.store.engines import create_engine
from backend.store.migrations import upgrade_to_head

POSTGRES_MISSING = "TEST_DATABASE_URL is not set: PostgreSQL tests skipped (CI sets it and fails without a server)"


def missing(reason: str) -> NoReturn:
    """Something a test needs is not on this machine: a skip that prints why, and a failure under CI
    (which provides everything: .ci/run starts the services and installs the tools)."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def postgres_url_or_skip() -> str:
    """TEST_DATABASE_URL; skipped outside CI when absent, a failure inside CI."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CI must run the suite on PostgreSQL: set TEST_DATABASE_URL")
    pytest.skip(POSTGRES_MISSING)


def url_with_schema(url: str, schema: str) -> str:
    """The same PostgreSQL database, with `schema` first on the search path."""
    parsed = sa.make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


class PostgresSchema:
    """A schema of its own for this test run, migrated once and emptied between tests."""

    def __init__(self, base_url: str):
        self.name = f"test_{os.getpid()}_{secrets.token_hex(3)}"
        self.base_url = base_url
        self.url = url_with_schema(base_url, self.name)
        admin = sa.create_engine(base_url)
        with admin.begin() as conn:
            _drop_schemas_of_dead_runs(conn)
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.name}"')
        admin.dispose()
        self.engine = create_engine(self.url)
        upgrade_to_head(self.engine)

    def empty(self) -> None:
        """Remove every row and restart the id sequence."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                "TRUNCATE chat_history, sessions, idempotency_keys, turn_leases, turns, turn_events, summaries "
                "RESTART IDENTITY CASCADE"
            )

    def drop(self) -> None:
        """Drop the schema and everything in it."""
        self.engine.dispose()
        admin = sa.create_engine(self.base_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        admin.dispose()


def _drop_schemas_of_dead_runs(conn) -> None:
    # A run that was killed leaves its schema behind; its name carries the pid of its process.
    names = conn.exec_driver_sql("SELECT nspname FROM pg_namespace WHERE nspname ~ '^test_[0-9]+_[0-9a-f]+$'").scalars()
    for name in names:
        pid = int(name.split("_")[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        except PermissionError:
            pass


class SqliteTemplate:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""

    def __init__(self, directory: Path):
        self.path = directory / "template.db"
        engine = create_engine(f"sqlite:///{self.path}")
        upgrade_to_head(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()

    def copy_to(self, path: Path) -> str:
        """A fresh database file at `path`; its URL."""
        shutil.copyfile(self.path, path)
        return f"sqlite:///{path}"


@contextmanager
def driver_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements the driver runs on `engine`'s connections meanwhile (its own transaction control left out):
    the hot paths run theirs on the driver's cursor, where SQLAlchemy's execute events do not see them."""
    statements: list[str] = []
    sqlite = engine.dialect.name == "sqlite"

    class RecordingCursor(psycopg.Cursor):
        def execute(self, query, params=None, **kwargs):
            statements.append(str(query))
            return super().execute(query, params, **kwargs)

    def checkout(dbapi_connection, record, proxy):
        if sqlite:
            dbapi_connection.set_trace_callback(statements.append)
        else:
            dbapi_connection.cursor_factory = RecordingCursor

    def checkin(dbapi_connection, record):
        if dbapi_connection is None:  # invalidated: SQLAlchemy hands back no connection
            return
        if sqlite:
            dbapi_connection.set_trace_callback(None)
        else:
            dbapi_connection.cursor_factory = psycopg.Cursor

    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "checkin", checkin)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "checkout", checkout)
        sa.event.remove(engine, "checkin", checkin)
    statements[:] = [s for s in statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"))]
