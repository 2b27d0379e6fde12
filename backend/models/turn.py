"""Turn and TurnEvent: a conversation turn as a resource, and the events it streamed, kept for resuming."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base
from backend.models.types import UTCTimestamp


class Turn(Base):
    """One turn: the user's message, its state, the stored reply once it ended, and a stop asked of it."""

    __tablename__ = "turns"

    turn_id: so.Mapped[str] = so.mapped_column(sa.Text, primary_key=True)
    # No foreign keys, as for leases: a turn's record never blocks deleting its session; erase removes both.
    session_id: so.Mapped[str] = so.mapped_column(sa.Text, index=True)
    status: so.Mapped[str] = so.mapped_column(sa.Text)  # running | completed | interrupted | failed
    user_message_id: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    reply_message_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger, nullable=True)
    # A stop asked while it runs, for whichever worker runs it; heard_chars NULL: all that was generated.
    stop_requested: so.Mapped[bool] = so.mapped_column(sa.Boolean, server_default=sa.false())
    heard_chars: so.Mapped[int | None] = so.mapped_column(sa.Integer, nullable=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCTimestamp)
    ended_at: so.Mapped[datetime | None] = so.mapped_column(UTCTimestamp, nullable=True, index=True)


class TurnEvent(Base):
    """One event of a turn as its stream sent it: `seq` is its SSE id, increasing within the turn."""

    __tablename__ = "turn_events"

    turn_id: so.Mapped[str] = so.mapped_column(sa.Text, primary_key=True)
    seq: so.Mapped[int] = so.mapped_column(sa.Integer, primary_key=True)
    event: so.Mapped[str] = so.mapped_column(sa.Text)
    data: so.Mapped[str] = so.mapped_column(sa.Text)  # the event's JSON, exactly as it was sent
