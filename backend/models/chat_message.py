"""ChatMessage: one message of a session (table `chat_history`, legacy shape)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base
from backend.models.session import Session
from backend.models.types import MetadataJSON, UTCTimestamp


class ChatMessage(Base):
    """A message of user, assistant, system or tool, ordered by id within its session."""

    __tablename__ = "chat_history"
    __table_args__ = (
        sa.Index("idx_chat_history_session", "session_id"),
        sa.Index("idx_chat_history_timestamp", "timestamp"),
        # Newest-first history without a sort. SQLite's idx_chat_history_session already ends in
        # the rowid (= id), so only PostgreSQL needs it (revision 0002).
        sa.Index("ix_chat_history_session_id_id", "session_id", "id").ddl_if(dialect="postgresql"),
        {"sqlite_autoincrement": True},
    )

    # 64-bit ids on PostgreSQL; SQLite needs the exact word INTEGER for an AUTOINCREMENT rowid alias.
    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    session_id: so.Mapped[str] = so.mapped_column(sa.Text, sa.ForeignKey("sessions.session_id"))
    role: so.Mapped[str] = so.mapped_column(sa.Text)
    content: so.Mapped[str] = so.mapped_column(sa.Text)
    timestamp: so.Mapped[datetime | None] = so.mapped_column(UTCTimestamp, server_default=sa.text("CURRENT_TIMESTAMP"))
    metadata_: so.Mapped[dict | None] = so.mapped_column("metadata", MetadataJSON)
    # The content's tokens by the TOKENIZER setting, counted once when written (revision 0006; NULL for rows
    # written before it, counted on their first context read or by `session-store count-tokens`).
    token_count: so.Mapped[int | None] = so.mapped_column(sa.Integer, nullable=True)
    # Set by a rewind: the message stays stored, out of the history and the context (revision 0006).
    superseded_at: so.Mapped[datetime | None] = so.mapped_column(UTCTimestamp, nullable=True)

    session: so.Mapped[Session] = so.relationship(back_populates="messages")
