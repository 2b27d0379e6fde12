"""Operator commands: `flask --app wsgi sessions ...`."""

from __future__ import annotations

import sqlite3

import click
import psycopg
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from backend.cli_progress import TerminalProgress
from backend.services.errors import InvalidInput, SessionStoreError
from backend.services.maintenance import MaintenanceService
from backend.services.ownership import BATCH_ROWS, assign_owners, read_assignments
from backend.services.transfer import copy_sqlite_to_postgres
from backend.store.engines import get_engine


class _OperatorGroup(AppGroup):
    """Turns the store's own errors into a one-line message and exit code 1, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in sorted(exc.errors.items()))
            raise click.ClickException(problems) from exc
        except SessionStoreError as exc:
            raise click.ClickException(str(exc)) from exc
        except sa.exc.DBAPIError as exc:  # the database refused or could not be reached: its own words, one line
            raise click.ClickException(f"database error: {_first_line(exc.orig)}") from exc
        except (sqlite3.Error, psycopg.Error) as exc:
            raise click.ClickException(f"database error: {_first_line(exc)}") from exc
        except sa.exc.ArgumentError as exc:
            raise click.ClickException(f"bad database URL: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


sessions_cli = _OperatorGroup("sessions", help="Operate on stored sessions.")


@sessions_cli.command("purge")
@click.option("--idle-days", type=click.FloatRange(min=0), required=True, help="Delete sessions idle longer than this.")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted, delete nothing.")
def purge(idle_days: float, dry_run: bool) -> None:
    """Delete sessions (and their messages) idle for more than --idle-days days, and expired idempotency keys."""
    with TerminalProgress("purging sessions") as progress:
        report = MaintenanceService(current_app.config["DATABASE_URL"]).purge_idle_sessions(
            idle_days, dry_run=dry_run, progress=progress if progress.enabled and not dry_run else None
        )
    verb = "would delete" if report.dry_run else "deleted"
    click.echo(
        f"{verb} {report.sessions} session(s) and {report.messages} message(s) "
        f"last active before {report.cutoff.isoformat(timespec='seconds')}"
        + ("" if report.dry_run else f"; {report.expired_keys} expired idempotency key(s)")
    )


@sessions_cli.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False))
def backup(destination: str) -> None:
    """Write a consistent copy of the live SQLite database to DESTINATION (a new file)."""
    with TerminalProgress("backing up pages") as progress:
        counts = MaintenanceService(current_app.config["DATABASE_URL"]).backup_sqlite(
            destination, progress=progress if progress.enabled else None
        )
    click.echo(f"backed up {counts['sessions']} session(s) and {counts['chat_history']} message(s) to {destination}")


@sessions_cli.command("copy-to-postgres")
@click.argument("target_url")
def copy_to_postgres(target_url: str) -> None:
    """Copy the configured SQLite database into the empty PostgreSQL database at TARGET_URL."""
    source = sa.make_url(current_app.config["DATABASE_URL"])
    if source.get_backend_name() != "sqlite":
        raise click.UsageError("the configured database is not SQLite; set SESSION_DB_PATH to the file to copy")
    with TerminalProgress("copying") as progress:
        report = copy_sqlite_to_postgres(source.database, target_url, progress.for_table if progress.enabled else None)
    click.echo(
        f"copied {report.sessions} session(s) and {report.messages} message(s); "
        f"new message ids will start above {report.id_sequence}"
    )
    for label, items in (
        ("timestamps that could not be read, stored as NULL", report.unreadable_timestamps),
        ("metadata values that were not JSON, stored as NULL", report.non_json_metadata),
        ("sessions created for messages whose session row was missing", report.sessions_created_for_orphans),
    ):
        if items:
            click.echo(f"{len(items)} {label}: " + ", ".join(items[:50]) + (" ..." if len(items) > 50 else ""))


@sessions_cli.command("assign-owners")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--batch-rows", type=click.IntRange(min=1), default=BATCH_ROWS, show_default=True, help="Rows per transaction."
)
def assign_owners_command(csv_file, batch_rows: int) -> None:
    """Give legacy sessions (no owner yet) the owners a CSV names: header session_id,owner or
    device_fingerprint,owner."""
    config = current_app.config
    key, rows = read_assignments(csv_file)
    engine = get_engine(config["DATABASE_URL"], busy_timeout_s=config["SQLITE_BUSY_TIMEOUT_S"])
    report = assign_owners(engine, config["LIMITS"], key, rows, batch_rows)
    click.echo(
        f"{report.rows} row(s) by {key}: {report.matched_rows} matched, {report.sessions_assigned} session(s) "
        f"given an owner; {len(report.unmatched)} unmatched, {len(report.refused)} refused"
    )
    for label, items in (("unmatched (no session without an owner)", report.unmatched), ("refused", report.refused)):
        if items:
            shown = ", ".join(f"line {line}: {what}" for line, what in items[:50])
            click.echo(f"{label}: {shown}" + (" ..." if len(items) > 50 else ""))


@sessions_cli.command("compact")
def compact() -> None:
    """Give back the space that deletes (a purge) freed: VACUUM (SQLite, PostgreSQL)."""
    report = MaintenanceService(current_app.config["DATABASE_URL"]).compact()
    click.echo(f"compacted: {report.before:,} bytes before, {report.after:,} bytes after")
