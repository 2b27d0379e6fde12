"""The context window: token counts of messages and the mark of a rewind (two nullable columns added to
chat_history; no existing value changes), and a new table of summaries.

Rows written before it keep NULL: their count is computed on their first context read, or for all of them by
`session-store count-tokens`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa

from alembic import op
from backend.models.types import UTCTimestamp

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode would copy the table on SQLite; ADD COLUMN with no default changes no row on either database.
    op.add_column("chat_history", sa.Column("token_count", sa.Integer(), nullable=True))
    op.add_column("chat_history", sa.Column("superseded_at", UTCTimestamp(), nullable=True))
    op.create_table(
        "summaries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("covers_through", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_summaries"),
        sqlite_autoincrement=True,
        if_not_exists=True,
    )
    op.create_index("ix_summaries_session_id", "summaries", ["session_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_summaries_session_id", table_name="summaries", if_exists=True)
    op.drop_table("summaries", if_exists=True)
    # Native DROP COLUMN (SQLite 3.35+): batch mode would copy every legacy row into a new table.
    op.execute("ALTER TABLE chat_history DROP COLUMN superseded_at")
    op.execute("ALTER TABLE chat_history DROP COLUMN token_count")
