"""The peers' storage: stdlib sqlite3 on the project's schema, one connection per thread.

Each connection runs as the project's does under the benchmark: WAL, synchronous=NORMAL, a busy timeout, and
autocommit so that a write takes the lock up front with BEGIN IMMEDIATE. Stored forms are the project's:
naive-UTC timestamps as text (STORED_TIMESTAMP_FORMAT), metadata as compact JSON or NULL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import UTC, datetime

DB_PATH = os.environ.get("PEER_DB_PATH", "sessions.db")
ROLES = ("user", "assistant", "system", "tool")
MAX_CONTENT_CHARS = 100_000
MAX_PAGE = 500
STAMP = "%Y-%m-%d %H:%M:%S.%f"
COLUMNS = "id, session_id, role, content, timestamp, metadata"

COUNT = "UPDATE sessions SET message_count = coalesce(message_count, 0) + 1, last_active = ? WHERE session_id = ?"
INSERT = "INSERT INTO chat_history (session_id, role, content, timestamp, metadata) VALUES (?, ?, ?, ?, ?)"
NEWEST = f"SELECT {COLUMNS} FROM chat_history WHERE session_id = ? ORDER BY id DESC LIMIT ?"
NEWEST_BEFORE = f"SELECT {COLUMNS} FROM chat_history WHERE session_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
EXISTS = "SELECT 1 FROM sessions WHERE session_id = ?"

_threads = threading.local()


class SessionMissing(Exception):
    """No session has that id."""


def _connection() -> sqlite3.Connection:
    connection = getattr(_threads, "connection", None)
    if connection is None:
        connection = sqlite3.connect(DB_PATH, timeout=30, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000", "foreign_keys = ON"):
            connection.execute(f"PRAGMA {pragma}")
        _threads.connection = connection
    return connection


def _message(row: tuple) -> dict:
    stamp, metadata = row[4], row[5]
    return {
        "id": row[0],
        "session_id": row[1],
        "role": row[2],
        "content": row[3],
        "timestamp": datetime.fromisoformat(stamp).replace(tzinfo=UTC) if stamp else None,
        "metadata": json.loads(metadata) if metadata else {},
    }


def append(session_id: str, role: str, content: str, metadata: dict | None) -> dict:
    """Count the message on its session and insert it, in one write transaction; SessionMissing."""
    now = datetime.now(UTC)
    stamp = now.replace(tzinfo=None).strftime(STAMP)
    stored_metadata = None if metadata is None else json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    connection = _connection()
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute(COUNT, (stamp, session_id)).rowcount != 1:
            raise SessionMissing(session_id)
        message_id = connection.execute(INSERT, (session_id, role, content, stamp, stored_metadata)).lastrowid
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return {
        "id": message_id,
        "session_id": session_id,
        "role": role,
        "content": content,
        "timestamp": now,
        "metadata": metadata or {},
    }


def history(session_id: str, limit: int, before: int | None = None) -> tuple[list[dict], int | None]:
    """The newest `limit` messages (ids below `before`), oldest first, and the `before` of the page older than
    them (None when there is none); SessionMissing."""
    connection = _connection()
    if before is None:
        rows = connection.execute(NEWEST, (session_id, limit + 1)).fetchall()
    else:
        rows = connection.execute(NEWEST_BEFORE, (session_id, before, limit + 1)).fetchall()
    if not rows and connection.execute(EXISTS, (session_id,)).fetchone() is None:
        raise SessionMissing(session_id)
    older = len(rows) > limit
    del rows[limit:]
    return [_message(row) for row in reversed(rows)], rows[-1][0] if older else None


def problems(body: object) -> dict[str, list[str]]:
    """What is wrong with a new message's JSON body, by field (empty when nothing is)."""
    if not isinstance(body, dict):
        return {"body": ["must be a JSON object"]}
    found = {name: ["unknown field"] for name in body.keys() - {"role", "content", "metadata"}}
    if body.get("role") not in ROLES:
        found["role"] = [f"must be one of: {', '.join(ROLES)}"]
    content = body.get("content")
    if not isinstance(content, str) or not content or len(content) > MAX_CONTENT_CHARS:
        found["content"] = [f"must be a non-empty string of at most {MAX_CONTENT_CHARS} characters"]
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        found["metadata"] = ["must be an object"]
    return found
