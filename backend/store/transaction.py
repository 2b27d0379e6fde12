"""The one transaction mechanism of the store: every service call runs in exactly one of these."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from time import perf_counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection

from backend.models.types import take_unreadable, unreadable
from backend.observability.metrics import record_begin, record_transaction
from backend.store.disk_full import disk_full_mark
from backend.store.engines import BEGIN_READ, invalidate_if_unusable
from backend.store.errors import translating_errors
from backend.store.sqlite_writes import begin_write, one_writer


class Transaction:
    """An open transaction: hot-path statements on the driver's cursor, Core statements through SQLAlchemy."""

    __slots__ = ("engine", "pooled", "dialect", "_connection", "_cursor", "_committed")

    def __init__(self, engine: sa.Engine, pooled: PoolProxiedConnection):
        self.engine = engine
        self.pooled = pooled
        self.dialect = engine.dialect
        self._connection: sa.Connection | None = None
        self._cursor = None
        self._committed: list[Callable[[], None]] = []

    @property
    def connection(self) -> sa.Connection:
        """SQLAlchemy's Connection over this transaction's pooled connection, made when first needed: most calls
        run only precompiled statements, and making one for each (with its checkout) was 5% of an append."""
        if self._connection is None:
            self._connection = sa.Connection(self.engine, connection=self.pooled)
        return self._connection

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this transaction has committed (never when it rolls back)."""
        self._committed.append(callback)

    def execute(self, statement: sa.Executable, params: dict[str, Any] | None = None) -> sa.CursorResult:
        """Run a Core statement; values come back through the columns' types."""
        return self.connection.execute(statement, params)

    def run(self, statement, params: dict[str, Any]):
        """Run a precompiled statement (statements.Precompiled) on the driver's cursor; the cursor."""
        if self._cursor is None:
            self._cursor = self.pooled.driver_connection.cursor()
        return statement.execute(self._cursor, self.dialect, params)

    def run_many(self, statement, rows: list[dict[str, Any]]):
        """Run a precompiled statement once per row of values, in one call of the driver; the cursor."""
        if self._cursor is None:
            self._cursor = self.pooled.driver_connection.cursor()
        return statement.execute_many(self._cursor, self.dialect, rows)

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
    with translating_errors(engine.dialect.dbapi, disk_full.set), writer:
        pooled = engine.raw_connection()  # the pool's connection; SQLAlchemy's Connection only if a Core statement runs
        driver = pooled.driver_connection
        tx = kind(engine, pooled)
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
            connection = tx._connection
            connection.commit() if connection is not None and connection.in_transaction() else driver.commit()
            if write:
                disk_full.clear()
        except BaseException as exc:
            invalidate_if_unusable(engine.dialect, pooled, tx._connection, exc, tx._cursor)
            if pooled.is_valid:
                tx.close()
                connection = tx._connection
                connection.rollback() if connection is not None and connection.in_transaction() else driver.rollback()
            raise
        finally:
            if autocommit and pooled.is_valid:
                driver.autocommit = False
            # Back to the pool (SQLAlchemy's Connection, when one was made, returns it).
            tx._connection.close() if tx._connection is not None else pooled.close()
            record_transaction(write, perf_counter() - started)
    for callback in tx._committed:  # only reached when the commit succeeded
        callback()
