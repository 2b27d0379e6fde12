"""Records as the JSON an idempotency key stores, and back: a replay rebuilds the very records the first request
returned."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime
from typing import Any, TypeVar

R = TypeVar("R")


def record_to_json(record: Any) -> dict:
    """A record (or a dataclass of records) as JSON values; times as ISO 8601 with their offset."""
    result = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if dataclasses.is_dataclass(value):
            value = record_to_json(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        result[f.name] = value
    return result


def record_from_json(record_type: type[R], data: dict, nested: dict[str, type] | None = None) -> R:
    """The record record_to_json made `data` from; `nested` names fields holding records."""
    values = {}
    for f in dataclasses.fields(record_type):
        value = data.get(f.name)
        if nested and f.name in nested and value is not None:
            value = record_from_json(nested[f.name], value)
        elif value is not None and "datetime" in str(f.type):
            value = datetime.fromisoformat(value)
        values[f.name] = value
    return record_type(**values)


def request_hash(operation: str, **params: Any) -> str:
    """The fingerprint of a request: its operation and parameters, canonical JSON, sha256."""
    canonical = json.dumps([operation, params], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
