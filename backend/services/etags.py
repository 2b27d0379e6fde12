"""ETags of sessions: a strong validator of what PATCH edits (metadata and device fingerprint)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from backend.services.errors import PreconditionFailed
from backend.store.records import SessionRecord


def session_etag(session: SessionRecord) -> str:
    """The session's entity tag, unquoted: changes whenever its metadata or device fingerprint changes."""
    state = json.dumps(
        [session.metadata, session.device_fingerprint],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def check_if_match(session: SessionRecord, if_match: str | Iterable[str] | None) -> None:
    """PreconditionFailed unless `if_match` (tags, or "*" for any) names the session's current tag; None passes."""
    if if_match is None:
        return
    tags = {if_match} if isinstance(if_match, str) else set(if_match)
    current = session_etag(session)
    if "*" not in tags and current not in {tag.strip('"') for tag in tags if isinstance(tag, str)}:
        raise PreconditionFailed(current)
