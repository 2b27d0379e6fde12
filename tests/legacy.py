"""A legacy sessions.db as the raw-sqlite3 module made it, with every odd value seen in the field."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

LEGACY_DDL = """
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    device_fingerprint TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_active TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    message_count INTEGER DEFAULT 0,
    metadata JSON
);
CREATE TABLE chat_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    metadata JSON,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id)
);
CREATE INDEX idx_chat_history_session ON chat_history(session_id);
CREATE INDEX idx_chat_history_timestamp ON chat_history(timestamp);
"""


# (stored created_at, what it must read as)
ODD_TIMESTAMPS = {
    "ts-iso-space": ("2024-05-06 07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    "ts-iso-t-micro": ("2024-05-06T07:08:09.123456", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)),
    "ts-zulu": ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    "ts-offset": ("2024-05-06T09:08:09+02:00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    "ts-epoch-int": (1714979289, datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    "ts-epoch-float": (1714979289.5, datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)),
    "ts-garbage": ("not a date", None),
    "ts-offset-before-year-1": ("0001-01-01T00:30:00+01:00", None),
    "ts-null": (None, None),
}

# (stored metadata, what it must read as)
ODD_METADATA = {
    "md-null": (None, {}),
    "md-empty-object": ("{}", {}),
    "md-object": (json.dumps({"client": "web", "n": [1, 2]}), {"client": "web", "n": [1, 2]}),
    "md-list": ("[1, 2]", {}),
    "md-string": ('"text"', {}),
    "md-number": ("5", {}),
    "md-not-json": ("{not json", {}),
    "md-python-repr": ("{'a': 1}", {}),
    "md-empty-text": ("", {}),
    "md-nested-too-deep": ("[" * 100_000 + "]" * 100_000, {}),
}

ORPHAN_SESSION_ID = "deleted-long-ago"


def build_legacy_database(path) -> None:
    """Create and fill a legacy file at `path` with sqlite3 alone, as the legacy module would."""
    conn = sqlite3.connect(path)
    conn.executescript(LEGACY_DDL)
    # Rows the way the legacy module wrote them: CURRENT_TIMESTAMP defaults, json.dumps metadata.
    conn.execute(
        "INSERT INTO sessions (session_id, device_fingerprint, metadata) VALUES (?, ?, ?)",
        ("legacy-web", "fp-web", json.dumps({"client": "web"})),
    )
    conn.execute("INSERT INTO sessions (session_id) VALUES (?)", ("legacy id with spaces/and slash",))
    for role, content in [("system", "You help."), ("user", "Hello!"), ("assistant", "Hi there")]:
        conn.execute(
            "INSERT INTO chat_history (session_id, role, content, metadata) VALUES (?, ?, ?, ?)",
            ("legacy-web", role, content, json.dumps({"source": "legacy"})),
        )
        conn.execute(
            "UPDATE sessions SET message_count = message_count + 1, last_active = CURRENT_TIMESTAMP WHERE "
            "session_id = ?",
            ("legacy-web",),
        )
    for session_id, (stored, _) in ODD_TIMESTAMPS.items():
        conn.execute(
            "INSERT INTO sessions (session_id, created_at, last_active, message_count, metadata) VALUES (?, ?, "
            "?, NULL, NULL)",
            (session_id, stored, stored),
        )
        conn.execute(
            "INSERT INTO chat_history (session_id, role, content, timestamp) VALUES (?, 'user', 'odd time', ?)",
            (session_id, stored),
        )
    for session_id, (stored, _) in ODD_METADATA.items():
        conn.execute("INSERT INTO sessions (session_id, metadata) VALUES (?, ?)", (session_id, stored))
        conn.execute(
            "INSERT INTO chat_history (session_id, role, content, metadata) VALUES (?, 'user', 'odd metadata', ?)",
            (session_id, stored),
        )
    conn.execute(
        "INSERT INTO chat_history (session_id, role, content) VALUES (?, 'user', 'my session row is gone')",
        (ORPHAN_SESSION_ID,),
    )
    # A deleted message: AUTOINCREMENT must never hand its id out again.
    conn.execute("INSERT INTO chat_history (session_id, role, content) VALUES ('legacy-web', 'user', 'deleted')")
    conn.execute("DELETE FROM chat_history WHERE content = 'deleted'")
    conn.commit()
    conn.close()


def dump(path) -> dict:
    """Every row with every value and its storage class, the schema text, and the id sequence."""
    conn = sqlite3.connect(path)
    try:
        result = {}
        for table in ("sessions", "chat_history"):
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            selected = ", ".join(f"{c}, typeof({c})" for c in columns)
            result[table] = conn.execute(f"SELECT {selected} FROM {table} ORDER BY rowid").fetchall()
        result["schema"] = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name NOT LIKE 'alembic%' "
            "AND name != 'sqlite_sequence' AND sql IS NOT NULL ORDER BY name"
        ).fetchall()
        result["sequence"] = conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
        return result
    finally:
        conn.close()


# Columns the migrations added to the legacy tables (0003: sessions.owner; 0006: chat_history.token_count and
# superseded_at), in the order ALTER TABLE appended them: a dump row has a (value, storage class) pair for each.
ADDED_COLUMNS = {"sessions": 1, "chat_history": 2}


def assert_legacy_rows_kept(before: dict, after: dict) -> None:
    """Every legacy row and value of `before` (a dump) as it was in `after`, the id sequence too; each added
    column NULL on every row."""
    assert after["sequence"] == before["sequence"]
    for table, added in ADDED_COLUMNS.items():
        assert [row[: -2 * added] for row in after[table]] == before[table]
        assert {row[-2 * added :] for row in after[table]} == {(None, "null") * added}
