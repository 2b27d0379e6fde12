"""Errors of the store, and the translation of driver errors into them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa


class SessionStoreError(Exception):
    """Base of every error the session store raises on purpose."""


class InvalidInput(SessionStoreError):
    """One or more arguments are invalid; `errors` maps each field to its problems."""

    def __init__(self, errors: dict[str, list[str] | dict]):
        fields = ", ".join(sorted(errors))
        super().__init__(f"invalid {fields}: " + "; ".join(f"{k}: {_described(v)}" for k, v in sorted(errors.items())))
        self.errors = errors


def _described(problems: list[str] | dict) -> str:
    # A batch's problems are nested by item index, then field: "2: content: must be at most 100000 characters".
    if isinstance(problems, dict):
        return "; ".join(f"{key}: {_described(value)}" for key, value in problems.items())
    return " ".join(problems)


class StoreUnavailable(SessionStoreError):
    """The database cannot be reached or written right now; the caller may retry."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class StoreFull(StoreUnavailable):
    """The database refused a write for lack of disk space; reads still work (HTTP 507)."""


DISK_FULL_REASON = "the database's disk is full: the write was refused and nothing was stored"


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100)."""
    return (
        getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL"
        or getattr(exc, "sqlstate", None) == "53100"
        or "database or disk is full" in str(exc)
    )


def _unavailable(exc: BaseException, on_full: Callable[[], None] | None) -> StoreUnavailable:
    if is_disk_full(exc):
        if on_full is not None:
            on_full()
        return StoreFull(DISK_FULL_REASON)
    return StoreUnavailable(outage_reason(exc))


@contextmanager
def translating_errors(dbapi, on_full: Callable[[], None] | None = None) -> Iterator[None]:
    """Outages, full disks and a missing schema, from SQLAlchemy or straight from the driver, as StoreUnavailable;
    `on_full` is called when the error is a full disk (StoreFull)."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise _unavailable(exc.orig, on_full) from exc
    except sa.exc.TimeoutError as exc:  # every pooled connection stayed in use for POOL_TIMEOUT_S
        raise StoreUnavailable("the database is busy; retry shortly") from exc
    except (dbapi.OperationalError, dbapi.InterfaceError) as exc:  # psycopg's DiskFull (53100) is one
        raise _unavailable(exc, on_full) from exc
    except sa.exc.ProgrammingError as exc:
        if not schema_missing(exc.orig):
            raise
        raise StoreUnavailable(outage_reason(exc.orig)) from exc
    except dbapi.ProgrammingError as exc:
        if not schema_missing(exc):
            raise
        raise StoreUnavailable(outage_reason(exc)) from exc


def schema_missing(exc: BaseException) -> bool:
    """PostgreSQL reports a missing table as a programming error (SQLSTATE 42P01), not an outage."""
    return getattr(exc, "sqlstate", None) == "42P01"


def outage_reason(exc: BaseException) -> str:
    """The one-line reason a client or operator is given for a driver error."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "the database is busy; retry shortly"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return "the database cannot be written at the moment"
    if "no such table" in text or "does not exist" in text:
        return (
            "the database schema is missing or out of date: run `session-store migrate` "
            "(`alembic upgrade head` in the checkout)"
        )
    return "the database is unavailable at the moment"
