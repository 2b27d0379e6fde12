"""Legacy baseline: the schema the raw-sqlite3 module created, adopted as it is.

Every statement is IF NOT EXISTS, so `alembic upgrade head` on an operator's existing
sessions.db records this revision without touching a row, and builds the schema on an
empty database.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The legacy module's DDL, verbatim but for IF NOT EXISTS.
LEGACY_SQLITE_DDL = [
    """CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    device_fingerprint TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_active TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    message_count INTEGER DEFAULT 0,
    metadata JSON
)""",
    """CREATE TABLE IF NOT EXISTS chat_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    metadata JSON,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id)
)""",
    "CREATE INDEX IF NOT EXISTS idx_chat_history_session ON chat_history(session_id)",
    "CREATE INDEX IF NOT EXISTS idx_chat_history_timestamp ON chat_history(timestamp)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in LEGACY_SQLITE_DDL:
            op.execute(statement)
        return
    _create_portable_schema()


def _create_portable_schema() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("device_fingerprint", sa.Text),
        sa.Column("created_at", sa.TIMESTAMP, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("last_active", sa.TIMESTAMP, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("message_count", sa.Integer, server_default=sa.text("0")),
        sa.Column("metadata", sa.JSON),
        if_not_exists=True,
    )
    op.create_table(
        "chat_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.session_id"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("timestamp", sa.TIMESTAMP, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("metadata", sa.JSON),
        if_not_exists=True,
    )
    op.create_index("idx_chat_history_session", "chat_history", ["session_id"], if_not_exists=True)
    op.create_index("idx_chat_history_timestamp", "chat_history", ["timestamp"], if_not_exists=True)


def downgrade() -> None:
    raise RuntimeError(
        "Refusing to downgrade below the legacy baseline: it would drop the sessions and "
        "chat_history tables and every conversation in them. Back up and drop them by hand "
        "if that is really what you want."
    )
