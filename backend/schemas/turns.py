"""Schemas of turns: a turn's state, a stop with what was heard, where a resumed stream starts."""

from __future__ import annotations

from marshmallow import fields

from backend.schemas.base import StrictSchema, _AsSent
from backend.schemas.headers import _Headers
from backend.schemas.messages import MessageSchema
from backend.services.validation import MAX_STORED_INT


class Value(_AsSent, fields.Raw):
    """Any JSON value, by the service's rule."""


class TurnSchema(StrictSchema):
    """A turn: running, completed, interrupted or failed; its user message and its stored reply (null while
    running, or when nothing was said)."""

    turn_id = fields.String(required=True)
    session_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["running", "completed", "interrupted", "failed"]})
    user_message = fields.Nested(MessageSchema, allow_none=True)
    reply = fields.Nested(MessageSchema, allow_none=True)


class StopSchema(StrictSchema):
    """A stop: how much of the reply the user heard (absent: all of it)."""

    RULES = {"heard_chars": "heard_chars"}
    heard_chars = Value(
        metadata={
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_STORED_INT,
            "description": "Characters of the reply the user heard, in Unicode code points (a JavaScript string's "
            "length counts UTF-16 units: count [...text].length instead); absent: all that was generated",
        }
    )


class LastEventHeaders(_Headers):
    """Last-Event-ID (SSE): the id of the last event the client received; the stream resumes after it."""

    RULES = {"last_event_id": "last_event_id"}
    last_event_id = fields.Integer(
        data_key="Last-Event-ID",
        metadata={
            "minimum": 0,
            "maximum": MAX_STORED_INT,
            "description": "resume after this event id; absent: the whole turn",
        },
    )
