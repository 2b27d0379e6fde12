"""Indexes for the operator listing, the idle purge, and history on PostgreSQL (additive only).

Legacy readers are unaffected: no table, column or existing index changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


INDEXES = [
    ("ix_sessions_last_active_session_id", "sessions", ["last_active", "session_id"]),
    ("ix_sessions_device_fingerprint_last_active", "sessions", ["device_fingerprint", "last_active", "session_id"]),
]
POSTGRESQL_ONLY = [("ix_chat_history_session_id_id", "chat_history", ["session_id", "id"])]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns, if_not_exists=True)
        return
    # CONCURRENTLY: a populated store keeps taking appends while the indexes build. It cannot
    # run inside a transaction, hence the autocommit block.
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES + POSTGRESQL_ONLY:
            op.create_index(name, table, columns, if_not_exists=True, postgresql_concurrently=True)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, _ in reversed(INDEXES + (POSTGRESQL_ONLY if postgresql else [])):
        op.drop_index(name, table_name=table, if_exists=True)
