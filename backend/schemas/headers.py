"""Request headers the API reads, as schemas: parsed by webargs and documented in the OpenAPI document."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from backend.schemas.base import StrictSchema


class StructuredString(fields.String):
    """A header value sent as a structured-field string ("...") or bare: the text inside."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


class _Headers(StrictSchema):
    class Meta:
        unknown = ma.EXCLUDE  # every other header of the request


class IdempotencyHeaders(_Headers):
    """Idempotency-Key (IETF httpapi draft): a repeat returns the first outcome, with no new effect."""

    RULES = {"idempotency_key": "idempotency_key"}
    idempotency_key = StructuredString(
        data_key="Idempotency-Key",
        metadata={
            "description": (
                "A unique key (1 to 255 printable ASCII characters, e.g. a UUID), quoted or bare. A repeat "
                "with the same "
                "key and request returns the stored status and body without a new effect; with another request 422; "
                "while the first is still in progress 409 with Retry-After. Keys are kept IDEMPOTENCY_TTL_S (24 h)."
            )
        },
    )


class IfMatchHeaders(_Headers):
    """If-Match: act only while the session is at one of these ETags (else 412)."""

    if_match = fields.String(
        data_key="If-Match", metadata={"description": "ETags of the session, or *; 412 when none is current"}
    )


class IfNoneMatchHeaders(_Headers):
    """If-None-Match: 304 when the session is still at one of these ETags."""

    if_none_match = fields.String(
        data_key="If-None-Match", metadata={"description": "ETags of the session; 304 when one is current"}
    )
