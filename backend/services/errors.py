"""Domain errors raised by the services; the API maps each to one HTTP status."""

from __future__ import annotations

from backend.store.errors import SessionStoreError, StoreUnavailable

__all__ = ["SessionStoreError", "SessionNotFound", "InvalidInput", "StoreUnavailable", "AgentsBusy"]


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


class AgentsBusy(SessionStoreError):
    """Every agent slot of this process is taken: the turn was refused before anything was stored."""

    def __init__(self, limit: int, retry_after_s: int = 2):
        super().__init__(f"all {limit} agent calls of this worker are in use; nothing was stored, retry shortly")
        self.limit = limit
        self.retry_after_s = retry_after_s
