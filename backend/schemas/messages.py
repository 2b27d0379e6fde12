"""Schemas of messages: the Message body, the append request, history pages."""

from __future__ import annotations

from marshmallow import fields

from backend.schemas.base import Object, StrictSchema, Text, json_object, page_limit, timestamp
from backend.services.validation import ROLES


class MessageSchema(StrictSchema):
    """A stored message."""

    id = fields.Integer(required=True)
    session_id = fields.String(required=True)
    role = fields.String(required=True)
    content = fields.String(required=True)
    timestamp = timestamp()
    metadata = json_object()


class MessageCreateSchema(StrictSchema):
    """A message to append."""

    RULES = {"role": "role", "content": "content", "metadata": "metadata"}
    role = Text(required=True, metadata={"enum": list(ROLES)})
    content = Text(required=True)
    metadata = Object()


class HistoryArgsSchema(StrictSchema):
    """Query of a history page: the newest `limit` messages with id < before."""

    RULES = {"limit": "limit", "before": "before"}
    limit = page_limit()
    before = fields.Integer()


class HistoryPageSchema(StrictSchema):
    """Messages oldest first; next_before is the `before` of the page before this one, null when none."""

    session_id = fields.String(required=True)
    messages = fields.List(fields.Nested(MessageSchema))
    next_before = fields.Integer(allow_none=True)
