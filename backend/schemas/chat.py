"""Schemas of chat and voice turns."""

from __future__ import annotations

from marshmallow import fields, validate

from backend.schemas.base import Object, StrictSchema, Text
from backend.schemas.messages import MessageSchema
from backend.services.turns.following import ON_DISCONNECT


def on_disconnect() -> fields.String:
    """What a streaming client's disconnect does to its turn."""
    return fields.String(
        load_default="continue",
        validate=validate.OneOf(ON_DISCONNECT),
        metadata={"description": "continue (default): the turn goes on, resumable; stop: the turn stops there"},
    )


class ChatRequestSchema(StrictSchema):
    """A text turn."""

    RULES = {"session_id": "session_id", "message": "content", "metadata": "metadata"}
    session_id = Text(required=True)
    message = Text(required=True)
    metadata = Object()
    on_disconnect = on_disconnect()


class VoiceRequestSchema(StrictSchema):
    """A voice turn: the transcript is the user's message."""

    RULES = {"session_id": "session_id", "transcript": "content", "audio": "audio", "metadata": "metadata"}
    session_id = Text(required=True)
    transcript = Text(required=True)
    audio = Object(metadata={"description": "format and language (strings), duration_ms (an integer, 0 or more)"})
    metadata = Object()
    on_disconnect = on_disconnect()


class ChatResponseSchema(StrictSchema):
    """The stored user message and the stored reply."""

    session_id = fields.String(required=True)
    turn_id = fields.String(allow_none=True, metadata={"description": "the turn, at /sessions/{id}/turns/{turn_id}"})
    message = fields.Nested(MessageSchema, required=True)
    reply = fields.Nested(MessageSchema, required=True)
