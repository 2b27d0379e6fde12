"""Column types that read whatever the legacy module left in a row, and write one clean form."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator, UserDefinedType


class _Unreadable(threading.local):
    """What the readers of this thread could not read since the row mapping last looked (usually nothing)."""

    def __init__(self):
        self.values: list[str] = []


unreadable = _Unreadable()


def note_unreadable(description: str) -> None:
    """Remember a legacy value read leniently; the row mapping (store.rows) logs it once, naming the table and row."""
    if len(unreadable.values) < 16:  # a reader with nobody draining (a copy, a script) stays bounded
        unreadable.values.append(description)


def take_unreadable() -> list[str]:
    """The values noted since the last call, and forget them."""
    values = unreadable.values
    if values:
        unreadable.values = []
    return values


# Same shape as CURRENT_TIMESTAMP, plus fixed-width microseconds: SQLite's date functions and
# Python's sqlite3 timestamp converter parse it, and it sorts as time against legacy values. Written by
# stored_timestamp, which also pads a year before 1000 to four digits (strftime's %Y does not, on glibc).
STORED_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class _Unprocessed(UserDefinedType):
    """A type named in DDL whose values pass through untouched: the SQLite dialect's own
    DATETIME and JSON parsers raise on legacy values and abort the whole query."""

    cache_ok = True

    def __init__(self, ddl_name: str):
        self.ddl_name = ddl_name

    def get_col_spec(self, **kw):
        return self.ddl_name


_NAIVE_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _naive_as_utc(value: datetime) -> datetime:
    """value.replace(tzinfo=UTC), in a tenth of the time (0.2 against 2 microseconds on CPython 3.11): it runs for
    every message read. A subclass of datetime (pendulum's, say) keeps its own replace: its arithmetic may differ."""
    if value.__class__ is not datetime:
        return value.replace(tzinfo=UTC)
    return _UTC_EPOCH + (value - _NAIVE_EPOCH)


def parse_timestamp(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from any legacy representation; None (logged) when unparseable."""
    if value.__class__ is str:  # the common case, kept short: it runs for every message read
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return _parse_unusual_timestamp(value)
        if parsed.tzinfo is None:  # as stored: naive UTC
            return _naive_as_utc(parsed)
    elif isinstance(value, datetime):
        parsed = value
    else:
        return _parse_unusual_timestamp(value)
    return _as_utc(parsed, value)


def _as_utc(parsed: datetime, original: Any) -> datetime | None:
    if parsed.tzinfo is None:
        return _naive_as_utc(parsed)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # an offset that crosses year 1 or 9999
        note_unreadable(f"unreadable timestamp {_short(original)} read as null")
        return None


def _parse_unusual_timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=UTC)
        text = value.decode() if isinstance(value, bytes) else str(value)
        parsed = datetime.fromisoformat(text.strip())
    except (ValueError, TypeError, OverflowError, OSError, UnicodeDecodeError):
        note_unreadable(f"unreadable timestamp {_short(value)} read as null")
        return None
    return _as_utc(parsed, value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_metadata(value: Any) -> dict:
    """A dict from any legacy metadata value: the object itself, else empty."""
    if value is None or value == "{}":  # as most messages are stored
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            note_unreadable("metadata that is not JSON read as {}")
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def stored_timestamp(value: datetime, dialect_name: str) -> datetime | str:
    """What a time is stored as: naive UTC (a naive value is taken as UTC); on SQLite, text."""
    if value.tzinfo is not None:
        if value.__class__ is datetime and value.utcoffset() is not None:
            value = _NAIVE_EPOCH + (value - _UTC_EPOCH)  # what the line below gives, in a fraction of the time
        else:
            value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds") if dialect_name == "sqlite" else value  # STORED_TIMESTAMP_FORMAT


def stored_metadata(value: dict | None) -> str | None:
    """What metadata is stored as: compact JSON text, or SQL NULL for None."""
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class UTCTimestamp(TypeDecorator):
    """TIMESTAMP holding naive UTC; always read back as an aware UTC datetime."""

    impl = sa.TIMESTAMP
    cache_ok = True
    reader = staticmethod(parse_timestamp)  # what process_result_value does, for the store's row mapping

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return _Unprocessed("TIMESTAMP")
        return dialect.type_descriptor(sa.TIMESTAMP())

    def process_bind_param(self, value, dialect):
        return None if value is None else stored_timestamp(value, dialect.name)

    def process_result_value(self, value, dialect):
        return parse_timestamp(value)


class MetadataJSON(TypeDecorator):
    """JSON holding an object; None is SQL NULL; any legacy value reads as a dict."""

    impl = sa.JSON
    cache_ok = True
    reader = staticmethod(parse_metadata)  # what process_result_value does, for the store's row mapping

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return _Unprocessed("JSON")
        return dialect.type_descriptor(sa.JSON(none_as_null=True))

    def process_bind_param(self, value, dialect):
        # PostgreSQL's JSON type serialises the dict itself.
        return stored_metadata(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return parse_metadata(value)


class LegacyCount(TypeDecorator):
    """INTEGER counter; NULL, which the legacy module could leave, reads as 0."""

    impl = sa.Integer
    cache_ok = True

    @staticmethod
    def reader(value):
        """NULL as 0."""
        return value or 0

    def process_result_value(self, value, dialect):
        return self.reader(value)
