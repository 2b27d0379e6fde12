"""Common base: unknown fields are an error, timestamps are ISO 8601 with their UTC offset."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from backend.schemas.compiled import CompiledDumpMixin

MAX_PAGE = 500


class StrictSchema(CompiledDumpMixin, ma.Schema):
    """Rejects unknown fields (422), as every request body of the API must; dumps through a compiled plan."""

    class Meta:
        unknown = ma.RAISE


def timestamp(**kwargs) -> fields.DateTime:
    """An aware datetime dumped as ISO 8601 with its offset; null for an unreadable legacy value."""
    return fields.DateTime(format="iso", allow_none=True, **kwargs)


def json_object(**kwargs) -> fields.Dict:
    """A JSON object of any content; the service checks its size."""
    return fields.Dict(keys=fields.String(), **kwargs)


def page_limit(default: int = 50) -> fields.Integer:
    """How many items a page holds, 1 to MAX_PAGE."""
    return fields.Integer(load_default=default, validate=ma.validate.Range(1, MAX_PAGE))
