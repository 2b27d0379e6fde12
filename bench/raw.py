"""Minimal raw-driver references: the same operations with sqlite3 or psycopg and nothing else."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import sqlalchemy as sa

from backend.settings import sqlite_synchronous_from_env
from backend.store.sql import MESSAGE

# The columns a record holds, by name from the models: the reference reads what the service reads.
COLUMNS = [column.name for column in MESSAGE.columns]
TIMESTAMP, METADATA = COLUMNS.index("timestamp"), COLUMNS.index("metadata")
APPEND_UPDATE = (
    "UPDATE sessions SET message_count = coalesce(message_count, 0) + 1, last_active = {p} WHERE session_id = {p}"
)
APPEND_INSERT = (
    "INSERT INTO chat_history (session_id, role, content, timestamp, metadata) "
    "VALUES ({p}, {p}, {p}, {p}, {p}) RETURNING id"
)
HISTORY = f"SELECT {', '.join(COLUMNS)} FROM chat_history WHERE session_id = {{p}} ORDER BY id DESC LIMIT {{p}}"


def _to_message(row):
    # The same output the service gives: aware UTC time, metadata as a dict.
    values = list(row)
    ts = values[TIMESTAMP]
    ts = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    values[TIMESTAMP] = ts.replace(tzinfo=UTC)
    md = values[METADATA]
    values[METADATA] = json.loads(md) if isinstance(md, str) else (md or {})
    return tuple(values)


class RawStore:
    """append() and history() straight on the driver, with the journal settings the service uses."""

    def __init__(self, url: str):
        parsed = sa.make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            self.conn = sqlite3.connect(parsed.database, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode = WAL")
            # The level the service runs with (SQLITE_SYNCHRONOUS, FULL by default): a like-for-like reference.
            self.conn.execute(f"PRAGMA synchronous = {sqlite_synchronous_from_env()}")
            self.conn.execute("PRAGMA busy_timeout = 30000")
            placeholder = "?"
        else:
            import psycopg

            options = parsed.query.get("options")
            self.conn = psycopg.connect(
                host=parsed.host,
                port=parsed.port,
                user=parsed.username,
                dbname=parsed.database,
                **({"options": options} if options else {}),
            )
            placeholder = "%s"
        self.update_sql = APPEND_UPDATE.format(p=placeholder)
        self.insert_sql = APPEND_INSERT.format(p=placeholder)
        self.history_sql = HISTORY.format(p=placeholder)

    def append(self, session_id: str, role: str, content: str) -> int:
        """Insert a message and count it, in one write transaction."""
        now = datetime.now(UTC).replace(tzinfo=None)
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else now
        cur = self.conn.cursor()
        if self.sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(self.update_sql, (stamp, session_id))
        new_id = cur.execute(self.insert_sql, (session_id, role, content, stamp, None)).fetchone()[0]
        self.conn.commit() if not self.sqlite else cur.execute("COMMIT")
        return new_id

    def history(self, session_id: str, limit: int = 50) -> list:
        """The newest `limit` messages, oldest first."""
        rows = self.conn.execute(self.history_sql, (session_id, limit)).fetchall()
        if not self.sqlite:
            self.conn.commit()
        return [_to_message(row) for row in reversed(rows)]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
