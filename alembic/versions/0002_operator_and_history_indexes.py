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


def upgrade() -> None:
    op.create_index("ix_sessions_last_active_session_id", "sessions", ["last_active", "session_id"], if_not_exists=True)
    op.create_index(
        "ix_sessions_device_fingerprint_last_active",
        "sessions",
        ["device_fingerprint", "last_active", "session_id"],
        if_not_exists=True,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_chat_history_session_id_id", "chat_history", ["session_id", "id"], if_not_exists=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_chat_history_session_id_id", table_name="chat_history", if_exists=True)
    op.drop_index("ix_sessions_device_fingerprint_last_active", table_name="sessions", if_exists=True)
    op.drop_index("ix_sessions_last_active_session_id", table_name="sessions", if_exists=True)
