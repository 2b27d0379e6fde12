"""Schemas of chat and voice turns."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from backend.schemas.base import StrictSchema, json_object
from backend.schemas.messages import MessageSchema


class ChatRequestSchema(StrictSchema):
    """A text turn."""

    session_id = fields.String(required=True)
    message = fields.String(required=True)
    metadata = json_object(allow_none=True)


class AudioSchema(StrictSchema):
    """What the client knows of the recording the transcript came from."""

    format = fields.String()
    duration_ms = fields.Integer(strict=True, validate=ma.validate.Range(min=0))
    language = fields.String()


class VoiceRequestSchema(StrictSchema):
    """A voice turn: the transcript is the user's message."""

    session_id = fields.String(required=True)
    transcript = fields.String(required=True)
    audio = fields.Nested(AudioSchema, allow_none=True)
    metadata = json_object(allow_none=True)


class ChatResponseSchema(StrictSchema):
    """The stored user message and the stored reply."""

    session_id = fields.String(required=True)
    message = fields.Nested(MessageSchema, required=True)
    reply = fields.Nested(MessageSchema, required=True)
