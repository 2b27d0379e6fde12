"""Schemas of chat and voice turns."""

from __future__ import annotations

from marshmallow import fields

from backend.schemas.base import Object, StrictSchema, Text
from backend.schemas.messages import MessageSchema


class ChatRequestSchema(StrictSchema):
    """A text turn."""

    RULES = {"session_id": "session_id", "message": "content", "metadata": "metadata"}
    session_id = Text(required=True)
    message = Text(required=True)
    metadata = Object()


class VoiceRequestSchema(StrictSchema):
    """A voice turn: the transcript is the user's message."""

    RULES = {"session_id": "session_id", "transcript": "content", "audio": "audio", "metadata": "metadata"}
    session_id = Text(required=True)
    transcript = Text(required=True)
    audio = Object(metadata={"description": "format and language (strings), duration_ms (an integer, 0 or more)"})
    metadata = Object()


class ChatResponseSchema(StrictSchema):
    """The stored user message and the stored reply."""

    session_id = fields.String(required=True)
    message = fields.Nested(MessageSchema, required=True)
    reply = fields.Nested(MessageSchema, required=True)
