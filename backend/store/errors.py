"""Errors of the store, and the translation of driver errors into them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import sqlalchemy as sa


class SessionStoreError(Exception):
    """Base of every error the session store raises on purpose."""


class StoreUnavailable(SessionStoreError):
    """The database cannot be reached or written right now; the caller may retry."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@contextmanager
def translating_errors(dbapi) -> Iterator[None]:
    """Outages and a missing schema, from SQLAlchemy or straight from the driver, as StoreUnavailable."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise StoreUnavailable(outage_reason(exc.orig)) from exc
    except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
        raise StoreUnavailable(outage_reason(exc)) from exc
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
        return "the database schema is missing or out of date: run `alembic upgrade head` (make migrate)"
    return "the database is unavailable at the moment"
