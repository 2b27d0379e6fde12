"""The one transaction mechanism of the store: every service call runs in exactly one of these."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from time import perf_counter
from typing import Any

import sqlalchemy as sa

from backend.models.types import take_unreadable, unreadable
from backend.observability.metrics import record_begin, record_transaction
from backend.store.disk_full import disk_full_mark
from backend.store.engines import BEGIN_READ, invalidate_if_unusable
from backend.store.errors import translating_errors
from backend.store.sqlite_writes import begin_write, one_writer


class Transaction:
    """An open transaction: Core statements through SQLAlchemy, hot-path statements on the driver's cursor."""

    __slots__ = ("connection", "dialect", "_cursor", "_committed")

    def __init__(self, connection: sa.Connection):
        self.connection = connection
        self.dialect = connection.dialect
        self._cursor = None
        self._committed: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this transaction has committed (never when it rolls back)."""
        self._committed.append(callback)

    def execute(self, statement: sa.Executable, params: dict[str, Any] | None = None) -> sa.CursorResult:
        """Run a Core statement; values come back through the columns' types."""
        return self.connection.execute(statement, params)

    def run(self, statement, params: dict[str, Any]):
        """Run a precompiled statement (statements.Precompiled) on the driver's cursor; the cursor."""
        if self._cursor is None:
            self._cursor = self.connection.connection.driver_connection.cursor()
        return statement.execute(self._cursor, self.dialect, params)

    def close(self) -> None:
        """Close the driver cursor, if one was opened."""
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None


@contextmanager
def transaction(
    engine: sa.Engine, *, write: bool, one_statement: bool = False, kind: type[Transaction] = Transaction
) -> Iterator[Transaction]:
    """One short transaction, committed on success and rolled back on any error.

    Begun and ended on the driver (SQLAlchemy joins it when a Core statement runs): through
    SQLAlchemy's own begin/commit it cost ~14 us of a ~180 us history read. A write takes SQLite's
    write lock up front. Outages become StoreUnavailable. A connection the driver reports gone or
    read-only leaves the pool, so the next call connects afresh: SQLAlchemy's own disconnect
    handling does not see errors raised on the driver's cursor.

    On PostgreSQL a read, and a write of `one_statement`, run without BEGIN and COMMIT (autocommit):
    at READ COMMITTED each statement of a read sees the latest commits either way, and one statement
    is a transaction by itself. That saves two round trips, and a lock the statement takes is held
    only while it runs, not until a COMMIT its greenlet must first be scheduled again to send.
    """
    started = perf_counter()
    if unreadable.values:  # noted outside any row mapping (a scalar read): not to be pinned on this call's rows
        take_unreadable()
    sqlite = engine.dialect.name == "sqlite"
    autocommit = not sqlite and (not write or one_statement)
    writer = one_writer(engine) if sqlite and write else nullcontext()
    disk_full = disk_full_mark(engine)
    with translating_errors(engine.dialect.dbapi, disk_full.set), writer, engine.connect() as connection:
        driver = connection.connection.driver_connection
        tx = kind(connection)
        try:
            if sqlite:
                if write:
                    begin_write(engine, driver)
                    record_begin(perf_counter() - started)  # a wait here is a wait for the write lock
                else:
                    driver.execute(BEGIN_READ)
            elif autocommit:
                driver.autocommit = True
            yield tx
            tx.close()
            connection.commit() if connection.in_transaction() else driver.commit()
            if write:
                disk_full.clear()
        except BaseException as exc:
            invalidate_if_unusable(connection, exc, tx._cursor)
            if not connection.invalidated:
                tx.close()
                connection.rollback() if connection.in_transaction() else driver.rollback()
            raise
        finally:
            if autocommit and not connection.invalidated:
                driver.autocommit = False
            record_transaction(write, perf_counter() - started)
    for callback in tx._committed:  # only reached when the commit succeeded
        callback()
