"""Opaque keyset cursors: urlsafe base64 of the JSON of the last row's raw sort values."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from backend.services.errors import InvalidInput

MAX_CURSOR_CHARS = 1024
NOT_A_CURSOR = "is not a cursor issued by this server"


def _encode_value(value: Any) -> Any:
    # PostgreSQL hands back datetimes; tagged so that they come back as datetimes, not text.
    return {"ts": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"ts"} or not isinstance(value["ts"], str):
            raise ValueError(value)
        return datetime.fromisoformat(value["ts"])
    return value


def encode_cursor(values: list) -> str:
    """A cursor holding `values` (JSON scalars or datetimes)."""
    raw = json.dumps([_encode_value(v) for v in values], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: Any, field: str = "cursor") -> list:
    """The values inside `cursor`; InvalidInput naming `field` when it is not one we issued."""
    try:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode())
        if not isinstance(values, list) or "\x00" in raw.decode() or "\\u0000" in raw.decode():
            raise ValueError(values)
        return [_decode_value(v) for v in values]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidInput({field: [NOT_A_CURSOR]}) from None


def decode_listing_cursor(cursor: Any, key_types: tuple[type, ...], phases: tuple[str, str]) -> tuple[str, Any, str]:
    """(phase, last_active as stored, session_id) of a listing cursor; phases = (dated, undated), key_types what
    the store may hold as a last_active (UnitOfWork.cursor_key_types)."""
    values = decode_cursor(cursor)
    if len(values) == 3 and isinstance(values[2], str):
        phase, key, sid = values
        scalar = isinstance(key, key_types) and not isinstance(key, bool)
        dated, undated = phases
        if (phase == dated and scalar) or (phase == undated and key is None):
            return phase, key, sid
    raise InvalidInput({"cursor": [NOT_A_CURSOR]})
