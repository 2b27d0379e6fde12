"""Summary: what an agent or a background job wrote of a conversation up to one of its messages."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base
from backend.models.types import UTCTimestamp


class Summary(Base):
    """A summary of a session's messages up to and including `covers_through`; the context window puts the one
    that covers most first, then only the messages after it. No message is changed or deleted."""

    __tablename__ = "summaries"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    # No foreign key, as for turns: deleting a session deletes its summaries with it (store.repositories.dependents).
    session_id: so.Mapped[str] = so.mapped_column(sa.Text, index=True)
    content: so.Mapped[str] = so.mapped_column(sa.Text)
    covers_through: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCTimestamp)
    token_count: so.Mapped[int] = so.mapped_column(sa.Integer)
