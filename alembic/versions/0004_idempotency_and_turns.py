"""Idempotency keys and turn leases: two new tables (additive only; no existing table changes).

Revision ID: 0004
Revises: 0002 (for now: it follows the owner migration 0003 once both are merged)
Create Date: 2026-11-25
"""

import sqlalchemy as sa

from alembic import op
from backend.models.types import MetadataJSON, UTCTimestamp

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("held_until", UTCTimestamp(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("outcome", MetadataJSON(), nullable=True),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.Column("expires_at", UTCTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
        if_not_exists=True,
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], if_not_exists=True)
    op.create_table(
        "turn_leases",
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_turn_leases"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("turn_leases", if_exists=True)
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys", if_exists=True)
    op.drop_table("idempotency_keys", if_exists=True)
