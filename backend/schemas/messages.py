"""Schemas of messages: the Message body, the append request, history pages."""

from __future__ import annotations

import marshmallow as ma
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
    superseded = fields.Boolean(
        metadata={"description": "only with include=superseded: true for a message a rewind took out"}
    )


class MessageItemSchema(StrictSchema):
    """A message to append."""

    RULES = {"role": "role", "content": "content", "metadata": "metadata"}
    role = Text(required=True, metadata={"enum": list(ROLES)})
    content = Text(required=True)
    metadata = Object()


class MessageCreateSchema(StrictSchema):
    """One message to append (role, content, metadata), or a batch: {"messages": [...]}, all stored or none."""

    RULES = MessageItemSchema.RULES
    role = Text(metadata={"enum": list(ROLES), "description": "required without `messages`"})
    content = Text(metadata={"description": "required without `messages`"})
    metadata = Object()
    messages = fields.List(
        fields.Nested(MessageItemSchema),
        metadata={"description": "a batch (MAX_BATCH_MESSAGES at most): all stored in one transaction, or none"},
    )

    @ma.validates_schema
    def _one_message_or_a_batch(self, data, **kwargs) -> None:
        if "messages" in data:
            alone = [name for name in ("role", "content", "metadata") if name in data]
            if alone:
                raise ma.ValidationError({name: ["not allowed with messages"] for name in alone})
            return
        missing = [name for name in ("role", "content") if name not in data]
        if missing:
            raise ma.ValidationError({name: ["Missing data for required field."] for name in missing})


class AppendedSchema(StrictSchema):
    """The stored message (every field of Message), or, for a batch, {"session_id", "messages": [the stored
    messages, in order]}."""

    id = fields.Integer()
    session_id = fields.String(required=True)
    role = fields.String()
    content = fields.String()
    timestamp = timestamp()
    metadata = json_object()
    messages = fields.List(fields.Nested(MessageSchema))

    def dump(self, obj, *, many=None):
        if isinstance(obj, list):
            return {"session_id": obj[0].session_id, "messages": MessageSchema(many=True).dump(obj)}
        return MESSAGE_SCHEMA.dump(obj)

    def json_dump(self, obj):
        if not isinstance(obj, list):
            return MESSAGE_SCHEMA.json_dump(obj)
        messages = [MESSAGE_SCHEMA.json_dump(message) for message in obj]
        if messages and messages[0] is None:  # MessageSchema's dump is not compiled: Flask's encoder writes it
            return None
        return {"session_id": obj[0].session_id, "messages": messages}


class HistoryArgsSchema(StrictSchema):
    """Query of a history page: the newest `limit` messages with id < before."""

    RULES = {"limit": "limit", "before": "before"}
    limit = page_limit()
    before = fields.Integer()
    include = fields.String(
        validate=ma.validate.OneOf(["superseded"]),
        metadata={"description": "superseded: also the messages a rewind took out, each marked superseded"},
    )


class RewindSchema(StrictSchema):
    """Take every message after `after_message_id` out of the history and the context (kept as superseded)."""

    after_message_id = fields.Integer(required=True, metadata={"description": "a message of the history"})


class RewoundSchema(StrictSchema):
    """What a rewind did: how many messages it superseded, and the history's count now."""

    session_id = fields.String(required=True)
    after_message_id = fields.Integer(required=True)
    superseded = fields.Integer(required=True)
    message_count = fields.Integer(required=True)


class ContextArgsSchema(StrictSchema):
    """Query of a context window: its budget in tokens (the service's rule bounds it)."""

    max_tokens = fields.Integer(required=True, metadata={"description": "1 to 10000000"})


class SummaryCreateSchema(StrictSchema):
    """A summary of the conversation up to and including message `covers_through`."""

    RULES = {"content": "content"}
    content = Text(required=True)
    covers_through = fields.Integer(required=True, metadata={"description": "the id of a message of this session"})


class SummarySchema(StrictSchema):
    """A stored summary."""

    id = fields.Integer(required=True)
    session_id = fields.String(required=True)
    content = fields.String(required=True)
    covers_through = fields.Integer(required=True)
    created_at = timestamp(required=True)


class ContextSchema(StrictSchema):
    """The newest messages that fit, oldest first, with the summary counted first; tokens in all; truncated when
    older messages were left out."""

    session_id = fields.String(required=True)
    messages = fields.List(fields.Nested(MessageSchema), required=True)
    summary = fields.Nested(SummarySchema, allow_none=True, required=True)
    tokens = fields.Integer(required=True)
    truncated = fields.Boolean(required=True)


class HistoryPageSchema(StrictSchema):
    """Messages oldest first; next_before is the `before` of the page before this one, null when none."""

    session_id = fields.String(required=True)
    messages = fields.List(fields.Nested(MessageSchema))
    next_before = fields.Integer(allow_none=True)


MESSAGE_SCHEMA = MessageSchema()
