"""What every console command shares: the settings it runs with, its engine, and one-line errors instead of
tracebacks."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import click
import psycopg
import sqlalchemy as sa
from flask.cli import ScriptInfo

from backend.services.errors import InvalidInput, SessionStoreError, StoreUnavailable
from backend.settings import Config
from backend.store.engines import create_engine, engine_for


class OperatorGroup(click.Group):
    """Turns the store's own errors into a one-line message and exit code 1, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in sorted(exc.errors.items()))
            raise click.ClickException(problems) from exc
        except StoreUnavailable as exc:  # the store's words suit an API client; an operator needs the driver's
            cause = _driver_error(exc)
            raise (database_error(cause) if cause is not None else click.ClickException(str(exc))) from exc
        except SessionStoreError as exc:
            raise click.ClickException(str(exc)) from exc
        except sa.exc.DBAPIError as exc:  # the database refused or could not be reached: its own words, one line
            raise database_error(exc.orig) from exc
        except (sqlite3.Error, psycopg.Error) as exc:
            raise database_error(exc) from exc
        except sa.exc.ArgumentError as exc:
            raise click.ClickException(f"bad database URL: {_first_line(exc)}") from exc


def command_settings() -> Mapping[str, Any]:
    """Under `flask --app wsgi sessions`, the app's settings; under `session-store`, the environment's (no app)."""
    script = click.get_current_context().find_object(ScriptInfo)
    if script is not None:
        return script.load_app().config
    try:
        return Config().as_flask_config()
    except (RuntimeError, ValueError) as exc:  # a setting that is not valid
        raise click.ClickException(str(exc)) from exc


def store_engine(settings: Mapping[str, Any]) -> sa.Engine:
    """This process's engine for the configured database."""
    try:
        return engine_for(settings["DATABASE_URL"], busy_timeout_s=settings["SQLITE_BUSY_TIMEOUT_S"])
    except OSError as exc:  # a SQLite file whose directory cannot be made: the driver is never reached
        raise database_error(exc) from exc
    except ValueError as exc:  # a database other than SQLite and PostgreSQL
        raise click.ClickException(str(exc)) from exc


def migration_engine(settings: Mapping[str, Any]) -> sa.Engine:
    """A new engine for the configured database, as `alembic upgrade head` builds it (alembic/env.py)."""
    try:
        return create_engine(settings["DATABASE_URL"])
    except OSError as exc:
        raise database_error(exc) from exc


def database_error(cause: BaseException) -> click.ClickException:
    """`Error: database error: <the first line of the cause>`."""
    return click.ClickException(f"database error: {_first_line(cause)}")


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's error behind `exc` (the store raises its errors `from` the driver's), None when there is none."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, sa.exc.DBAPIError):
            return cause.orig
        if isinstance(cause, (sqlite3.Error, psycopg.Error)):
            return cause
        cause = cause.__cause__
    return None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
