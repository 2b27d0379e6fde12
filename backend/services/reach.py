"""Who reaches a session: the one rule, used by every service."""

from __future__ import annotations

from backend.services.errors import SessionNotFound
from backend.store.records import SessionRecord


def reachable(session: SessionRecord | None, session_id: str, owner: str | None) -> SessionRecord:
    """`session`; SessionNotFound when there is none or, with `owner`, when it is not the owner's."""
    if session is None or (owner is not None and session.owner != owner):
        raise SessionNotFound(session_id)
    return session
