"""Turns as resources and the events they streamed: two new tables (additive only; no existing table changes).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa

from alembic import op
from backend.models.types import UTCTimestamp

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "turns",
        sa.Column("turn_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("user_message_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_message_id", sa.BigInteger(), nullable=True),
        sa.Column("stop_requested", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("heard_chars", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.Column("ended_at", UTCTimestamp(), nullable=True),
        sa.PrimaryKeyConstraint("turn_id", name="pk_turns"),
        if_not_exists=True,
    )
    op.create_index("ix_turns_session_id", "turns", ["session_id"], if_not_exists=True)
    op.create_index("ix_turns_ended_at", "turns", ["ended_at"], if_not_exists=True)
    op.create_table(
        "turn_events",
        sa.Column("turn_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("turn_id", "seq", name="pk_turn_events"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("turn_events", if_exists=True)
    op.drop_index("ix_turns_ended_at", table_name="turns", if_exists=True)
    op.drop_index("ix_turns_session_id", table_name="turns", if_exists=True)
    op.drop_table("turns", if_exists=True)
