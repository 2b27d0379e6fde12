"""The one helper the tests count stored rows with."""

from __future__ import annotations

import sqlalchemy as sa

TABLES = ("sessions", "chat_history")


def row_counts(engine: sa.Engine) -> tuple[int, int]:
    """How many (sessions, messages) the database holds."""
    with engine.connect() as conn:
        return tuple(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one() for table in TABLES)


def dump_rows(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of both tables with every value as the database returns it, in a fixed order."""
    order = {"sessions": "session_id", "chat_history": "id"}
    with engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order[table]}")]
            for table in TABLES
        }
