"""Schemas of sessions: the Session body, create and update requests, stats, the listing."""

from __future__ import annotations

from marshmallow import fields

from backend.schemas.base import Object, StrictSchema, Text, json_object, page_limit, timestamp


class SessionSchema(StrictSchema):
    """A session."""

    session_id = fields.String(required=True)
    device_fingerprint = fields.String(allow_none=True)
    created_at = timestamp()
    last_active = timestamp()
    message_count = fields.Integer()
    metadata = json_object()
    owner = fields.String(allow_none=True, metadata={"description": "the `sub` of its creator (jwt mode)"})


class SessionSummarySchema(SessionSchema):
    """A session in the listing, with the start of its last message."""

    last_message_preview = fields.String(allow_none=True)


class SessionCreateSchema(StrictSchema):
    """Get-or-create: every field optional; without session_id the server generates one."""

    # No RULES: open_session checks every field at once (a new id has rules an existing one has not).
    session_id = Text(metadata={"description": "letters, digits and . _ : -; at most 128; not . or .."})
    device_fingerprint = Text()
    metadata = Object()


class SessionUpdateSchema(StrictSchema):
    """Metadata merged shallowly (a key set to null is removed); device_fingerprint replaced when present."""

    RULES = {"metadata": "metadata", "device_fingerprint": "device_fingerprint"}
    metadata = Object()
    device_fingerprint = Text()


class SessionStatsSchema(StrictSchema):
    """Counts and times of a session."""

    session_id = fields.String(required=True)
    message_count = fields.Integer()
    created_at = timestamp()
    last_active = timestamp()
    first_message_at = timestamp()
    last_message_at = timestamp()
    messages_by_role = fields.Dict(keys=fields.String(), values=fields.Integer())


class SessionListArgsSchema(StrictSchema):
    """Query of the listing."""

    RULES = {"limit": "limit", "device_fingerprint": "device_fingerprint", "owner": "owner"}
    limit = page_limit()
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})
    device_fingerprint = fields.String()
    owner = fields.String(metadata={"description": "only this owner's sessions (operators)"})


class SessionPageSchema(StrictSchema):
    """One page of sessions, most recently active first."""

    sessions = fields.List(fields.Nested(SessionSummarySchema))
    next_cursor = fields.String(allow_none=True)
