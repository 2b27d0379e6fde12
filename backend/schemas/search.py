"""Schemas of search: the query and a page of hits."""

from __future__ import annotations

from marshmallow import fields

from backend.schemas.base import StrictSchema, page_limit
from backend.schemas.messages import MessageSchema
from backend.services.search import DEFAULT_LIMIT
from backend.services.validation import ROLES


class SearchArgsSchema(StrictSchema):
    """Query of a search; `q` is checked by the service (its rules name what is wrong)."""

    RULES = {"limit": "limit", "role": "role", "session_id": "session_id", "owner": "owner"}
    q = fields.String(
        required=True,
        metadata={
            "description": 'words (all required), "a phrase", -word to leave out, OR between alternatives',
            "example": "refund -monday",
        },
    )
    session_id = fields.String(metadata={"description": "only in this session"})
    role = fields.String(metadata={"enum": list(ROLES), "description": "only messages of this role"})
    owner = fields.String(metadata={"description": "only this owner's sessions (operators)"})
    limit = page_limit(DEFAULT_LIMIT)
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})


class SearchHitSchema(StrictSchema):
    """A message found, with its session and a snippet."""

    session_id = fields.String(required=True)
    message = fields.Nested(MessageSchema, required=True)
    snippet = fields.String(
        required=True,
        metadata={"description": "HTML: the text around the matches, escaped, each match in <mark></mark>"},
    )


class SearchPageSchema(StrictSchema):
    """Hits newest first."""

    hits = fields.List(fields.Nested(SearchHitSchema))
    next_cursor = fields.String(allow_none=True, metadata={"description": "the older hits; null when none"})
