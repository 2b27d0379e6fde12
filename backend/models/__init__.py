"""SQLAlchemy models over the legacy schema, and the tables added since."""

from backend.models.base import Base
from backend.models.chat_message import ChatMessage
from backend.models.idempotency_key import IdempotencyKey
from backend.models.session import Session
from backend.models.summary import Summary
from backend.models.turn import Turn, TurnEvent
from backend.models.turn_lease import TurnLease

__all__ = ["Base", "Session", "ChatMessage", "IdempotencyKey", "TurnLease", "Turn", "TurnEvent", "Summary"]
