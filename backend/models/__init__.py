"""SQLAlchemy models over the legacy schema."""

from backend.models.base import Base
from backend.models.chat_message import ChatMessage
from backend.models.session import Session

__all__ = ["Base", "Session", "ChatMessage"]
