"""Session ownership: a nullable `owner` column on sessions and its index for the per-owner listing.

Additive only: every existing row keeps its values and reads owner NULL (a legacy session, reached
only by operators in jwt mode until `flask --app wsgi sessions assign-owners` gives it an owner).
On SQLite the column is added with ALTER TABLE ADD COLUMN (batch mode needs no table rebuild for it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEX = ("ix_sessions_owner_last_active", "sessions", ["owner", "last_active", "session_id"])


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("owner", sa.Text(), nullable=True))
    name, table, columns = INDEX
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(name, table, columns, if_not_exists=True)
        return
    # CONCURRENTLY, as in 0002: a populated store keeps taking writes while the index builds.
    with op.get_context().autocommit_block():
        op.create_index(name, table, columns, if_not_exists=True, postgresql_concurrently=True)


def downgrade() -> None:
    # Dropping the column would lose every owner assignment: refuse once there is one.
    assigned = op.get_bind().execute(sa.text("SELECT count(*) FROM sessions WHERE owner IS NOT NULL")).scalar()
    if assigned:
        raise RuntimeError(f"Refusing to downgrade: {assigned} session(s) have an owner, which would be lost")
    op.drop_index(INDEX[0], table_name=INDEX[1], if_exists=True)
    # Plain ALTER TABLE DROP COLUMN (SQLite >= 3.35), not a batch rebuild: rebuilding the legacy
    # table would rewrite every row and trip the foreign key of orphaned legacy messages.
    op.drop_column("sessions", "owner")
