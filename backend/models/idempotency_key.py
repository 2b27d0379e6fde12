"""IdempotencyKey: one request sent with an Idempotency-Key, its progress and its stored outcome."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base
from backend.models.types import MetadataJSON, UTCTimestamp


class IdempotencyKey(Base):
    """A key within its scope (the caller: owner, or the session in `none` mode) and what it did."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.Index("ix_idempotency_keys_expires_at", "expires_at"),)

    scope: so.Mapped[str] = so.mapped_column(sa.Text, primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.Text, primary_key=True)
    # sha256 of the request's parameters: the same key with another request is refused (422).
    request_hash: so.Mapped[str] = so.mapped_column(sa.Text)
    # While in flight (status NULL): who holds it and until when; a holder that died lets it lapse.
    holder: so.Mapped[str | None] = so.mapped_column(sa.Text)
    held_until: so.Mapped[datetime | None] = so.mapped_column(UTCTimestamp)
    # A turn's stored user message, reused when the turn is retried after its worker died.
    message_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    status: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    outcome: so.Mapped[dict | None] = so.mapped_column(MetadataJSON)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCTimestamp)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCTimestamp)
