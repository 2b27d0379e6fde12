"""TurnLease: the one conversation turn in flight on a session, held by a token until it expires."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base
from backend.models.types import UTCTimestamp


class TurnLease(Base):
    """A row exists while a turn runs (or until its lease expires, when its worker died)."""

    __tablename__ = "turn_leases"

    # No foreign key: a lease outlives nothing, and a turn on a session being deleted must not block it.
    session_id: so.Mapped[str] = so.mapped_column(sa.Text, primary_key=True)
    holder: so.Mapped[str] = so.mapped_column(sa.Text)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCTimestamp)
