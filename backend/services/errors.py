"""Domain errors raised by the services; the API maps each to one HTTP status."""

from __future__ import annotations


class SessionStoreError(Exception):
    """Base of every error the session store raises on purpose."""


class SessionNotFound(SessionStoreError):
    """No session has the given id."""

    def __init__(self, session_id: str):
        super().__init__(f"session {session_id!r} not found")
        self.session_id = session_id


class InvalidInput(SessionStoreError):
    """One or more arguments are invalid; `errors` maps each field to its problems."""

    def __init__(self, errors: dict[str, list[str]]):
        fields = ", ".join(sorted(errors))
        super().__init__(f"invalid {fields}: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(errors.items())))
        self.errors = errors


class StoreUnavailable(SessionStoreError):
    """The database cannot be reached or written right now; the caller may retry."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
