"""Domain errors raised by the services; the API maps each to one HTTP status."""

from __future__ import annotations

from backend.store.errors import InvalidInput, SessionStoreError, StoreFull, StoreUnavailable

__all__ = [
    "Problems",
    "SessionStoreError",
    "SessionNotFound",
    "InvalidInput",
    "StoreUnavailable",
    "StoreFull",
    "IdempotencyKeyReused",
    "RequestInFlight",
    "ReservationLost",
    "TurnInProgress",
    "PreconditionFailed",
    "AgentsBusy",
    "TurnNotFound",
    "TurnMovedOn",
]


class SessionNotFound(SessionStoreError):
    """No session has the given id."""

    def __init__(self, session_id: str):
        super().__init__(f"session {session_id!r} not found")
        self.session_id = session_id


class IdempotencyKeyReused(SessionStoreError):
    """The Idempotency-Key was first used with a different request (HTTP 422)."""

    def __init__(self, key: str):
        super().__init__("this Idempotency-Key was already used with a different request")
        self.key = key


class RequestInFlight(SessionStoreError):
    """The first request with this Idempotency-Key is still being processed (HTTP 409, Retry-After)."""

    def __init__(self, retry_after_s: int):
        super().__init__("a request with this Idempotency-Key is still in progress; retry shortly")
        self.retry_after_s = retry_after_s


class ReservationLost(SessionStoreError):
    """This attempt ran past its reservation and another attempt took the key over; nothing was stored."""

    def __init__(self, reason: str = "this request took longer than its reservation and a retry took it over") -> None:
        super().__init__(reason)


class TurnInProgress(SessionStoreError):
    """Another chat or voice turn is in flight on this session (HTTP 409, Retry-After)."""

    def __init__(self, session_id: str, retry_after_s: int):
        super().__init__("another turn is in progress on this session; retry when it has finished")
        self.session_id = session_id
        self.retry_after_s = retry_after_s


class PreconditionFailed(SessionStoreError):
    """If-Match named a version of the session that is no longer current (HTTP 412)."""

    def __init__(self, current_etag: str):
        super().__init__("the session changed since you read it (If-Match does not match its ETag)")
        self.current_etag = current_etag


class AgentsBusy(SessionStoreError):
    """Every agent slot of this process is taken: the turn was refused before anything was stored."""

    def __init__(self, limit: int, retry_after_s: int = 2):
        super().__init__(f"all {limit} agent calls of this worker are in use; nothing was stored, retry shortly")
        self.limit = limit
        self.retry_after_s = retry_after_s


class TurnNotFound(SessionStoreError):
    """No turn of this session has the given id (or its events are no longer kept)."""

    def __init__(self, turn_id: str, message: str = "turn not found"):
        super().__init__(message)
        self.turn_id = turn_id


class TurnMovedOn(SessionStoreError):
    """A stop came for a turn whose reply can no longer be cut (HTTP 409)."""

    def __init__(self, turn_id: str, why: str):
        super().__init__(why)
        self.turn_id = turn_id


class Problems:
    """Collects problems per field, then raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        """Record one problem with field `name`."""
        self.errors.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        """Raise InvalidInput naming every field with a problem."""
        if self.errors:
            raise InvalidInput(self.errors)
