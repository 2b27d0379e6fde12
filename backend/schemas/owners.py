"""Schemas of an owner's data: the answer of an erase."""

from __future__ import annotations

from marshmallow import fields

from backend.schemas.base import StrictSchema


class ErasedCountsSchema(StrictSchema):
    """Rows erased per kind."""

    sessions = fields.Integer(required=True)
    messages = fields.Integer(required=True)
    summaries = fields.Integer(required=True)
    turns = fields.Integer(required=True)
    turn_events = fields.Integer(required=True)
    turn_leases = fields.Integer(required=True)
    idempotency_keys = fields.Integer(required=True)


class ErasedSchema(StrictSchema):
    """What an erase removed; a repeat answers zeros."""

    owner = fields.String(required=True)
    erased = fields.Nested(ErasedCountsSchema, required=True)
    file_scrubbed = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "SQLite: true once no copy of the erased rows is left in the database file or its WAL "
            "(false when a reader held the WAL: it is truncated at a later erase or checkpoint); null on PostgreSQL"
        },
    )
