"""The one transaction mechanism of the store: every service call runs in exactly one of these."""

from __future__ import annotations

from contextlib import contextmanager
from time import perf_counter
from typing import Any, Iterator

import sqlalchemy as sa

from backend.models.types import take_unreadable, unreadable
from backend.store.engines import WRITE, invalidate_if_unusable
from backend.observability.metrics import record_transaction
from backend.store.errors import translating_errors


class Transaction:
    """An open transaction: Core statements through SQLAlchemy, hot-path statements on the driver's cursor."""

    __slots__ = ("connection", "dialect", "_cursor")

    def __init__(self, connection: sa.Connection):
        self.connection = connection
        self.dialect = connection.dialect
        self._cursor = None

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
def transaction(engine: sa.Engine, *, write: bool) -> Iterator[Transaction]:
    """One short transaction, committed on success and rolled back on any error.

    A write takes SQLite's write lock up front (engines.WRITE). Outages become StoreUnavailable.
    A connection the driver reports gone or read-only leaves the pool, so the next call connects
    afresh: SQLAlchemy's own disconnect handling does not see errors raised on the driver's cursor.
    """
    started = perf_counter()
    if unreadable.values:  # noted outside any row mapping (a scalar read): not to be pinned on this call's rows
        take_unreadable()
    with translating_errors(engine.dialect.dbapi), engine.connect() as connection:
        if write:
            connection.execution_options(**{WRITE: True})
        tx = Transaction(connection)
        try:
            with connection.begin():
                yield tx
                tx.close()
        except BaseException as exc:
            if not connection.invalidated:
                invalidate_if_unusable(connection, exc, tx._cursor)
            raise
        finally:
            if not connection.invalidated:
                tx.close()
            record_transaction(write, perf_counter() - started)
