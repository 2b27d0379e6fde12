"""Token counts of messages: one nullable column added to chat_history (no existing value changes).

Rows written before it keep NULL: their count is computed on their first context read, or for all of them by
`session-store count-tokens`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode would copy the table on SQLite; ADD COLUMN with no default changes no row on either database.
    op.add_column("chat_history", sa.Column("token_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+): batch mode would copy every legacy row into a new table.
    op.execute("ALTER TABLE chat_history DROP COLUMN token_count")
