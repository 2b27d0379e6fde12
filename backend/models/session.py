"""Session: one conversation (table `sessions`, legacy shape)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base
from backend.models.types import LegacyCount, MetadataJSON, UTCTimestamp


class Session(Base):
    """A conversation: who it is, when it was last active, its metadata."""

    __tablename__ = "sessions"
    # Added by revision 0002 for the operator listing (newest activity first) and the idle purge.
    __table_args__ = (
        sa.Index("ix_sessions_last_active_session_id", "last_active", "session_id"),
        sa.Index("ix_sessions_device_fingerprint_last_active", "device_fingerprint", "last_active", "session_id"),
        # Revision 0003: each owner's sessions, most recently active first.
        sa.Index("ix_sessions_owner_last_active", "owner", "last_active", "session_id"),
    )

    session_id: so.Mapped[str] = so.mapped_column(sa.Text, primary_key=True)
    device_fingerprint: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime | None] = so.mapped_column(UTCTimestamp, server_default=sa.text("CURRENT_TIMESTAMP"))
    last_active: so.Mapped[datetime | None] = so.mapped_column(
        UTCTimestamp, server_default=sa.text("CURRENT_TIMESTAMP")
    )
    message_count: so.Mapped[int | None] = so.mapped_column(LegacyCount, server_default=sa.text("0"))
    metadata_: so.Mapped[dict | None] = so.mapped_column("metadata", MetadataJSON)
    # The `sub` of the client that created it (jwt mode); NULL for legacy and none-mode sessions.
    owner: so.Mapped[str | None] = so.mapped_column(sa.Text)

    messages: so.WriteOnlyMapped[ChatMessage] = so.relationship(  # noqa: F821
        back_populates="session", passive_deletes=True
    )
