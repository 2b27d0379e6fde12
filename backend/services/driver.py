"""The two hot paths (append, recent history) run on the driver's cursor.

Measured: SQLAlchemy's per-execution machinery (events, execution contexts, result
processing) cost ~0.6x of an append and of a 50-message read, leaving the service at ~0.35x
of raw sqlite3. The SQL is still SQLAlchemy's, compiled once per dialect from the models'
tables; only execution and value conversion are done here.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import sqlalchemy as sa

from backend.db import invalidate_if_unusable, translate_driver_errors
from backend.models.types import parse_metadata, parse_timestamp
from backend.services import queries as q


class DriverStatement:
    """A statement compiled once per dialect; run with plain driver values."""

    def __init__(self, statement: sa.Executable):
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def prepare(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        """SQL text, positional parameter order (None for named styles), default values."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            result = self.statement.compile(dialect=dialect)
            order = tuple(result.positiontup) if dialect.positional else None
            compiled = self._compiled[dialect.name] = (result.string, order, dict(result.params))
        return compiled

    def execute(self, cursor, dialect: sa.Dialect, values: dict[str, Any]):
        """Execute on a driver cursor; returns the cursor."""
        sql, order, defaults = self.prepare(dialect)
        merged = {**defaults, **values}
        cursor.execute(sql, tuple(merged[name] for name in order) if order is not None else merged)
        return cursor


def message_values(row) -> tuple:
    """A chat_history row as (id, session_id, role, content, aware timestamp, metadata dict)."""
    return row[0], row[1], row[2], row[3], parse_timestamp(row[4]), parse_metadata(row[5])


@contextmanager
def driver_transaction(engine: sa.Engine, *, write: bool) -> Iterator[Any]:
    """A pooled connection's driver cursor in one transaction (write lock taken up front on SQLite).

    A connection the server dropped fails its reset when returned, and the pool discards it,
    so the next call connects afresh (tests/unit/test_recovery.py).
    """
    with translate_driver_errors(engine), engine.connect() as conn:
        driver_connection = conn.connection.driver_connection
        cursor = driver_connection.cursor()
        try:
            # On SQLite a read runs each SELECT as its own snapshot; a write takes the lock up front.
            if write and engine.dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            driver_connection.commit()
        except BaseException as exc:
            # SQLAlchemy's own disconnect handling does not see errors raised on the driver's
            # cursor: a dead or read-only connection must leave the pool here, or every later
            # request on it fails although the database is back.
            invalidate_if_unusable(conn, exc, cursor)
            if not conn.invalidated:
                driver_connection.rollback()
            raise
        finally:
            if not conn.invalidated:
                cursor.close()


COUNT_MESSAGE = DriverStatement(q.count_message)
INSERT_MESSAGE = DriverStatement(q.insert_message)
NEWEST_MESSAGES = DriverStatement(q.newest_messages)
NEWEST_MESSAGES_BEFORE = DriverStatement(q.newest_messages_before)
SESSION_EXISTS = DriverStatement(q.session_exists)
