"""The `session-store` console commands (also `flask --app wsgi sessions ...` in a checkout): migrate, and the
operator commands, reading DATABASE_URL (else SESSION_DB_PATH) as backend.settings.Config does."""

from __future__ import annotations

import getpass
import json
import os

import click
import sqlalchemy as sa

from backend.cli_progress import TerminalProgress
from backend.console import OperatorGroup, command_settings, migration_engine, store_engine
from backend.services.maintenance import MaintenanceService
from backend.services.ownership import BATCH_ROWS, assign_owners, read_assignments
from backend.services.session import SessionService
from backend.services.transfer import copy_sqlite_to_postgres
from backend.store.migrations import database_revision, head_revision, upgrade_to_head


@click.command("migrate")
def migrate() -> None:
    """Upgrade the configured database to the newest revision (a legacy sessions.db is adopted as it is)."""
    target = migration_engine(command_settings())
    try:
        with target.connect() as conn:
            before = database_revision(conn)
        with TerminalProgress("migrating") as progress:  # indexing a large history for search takes a while
            upgrade_to_head(target, progress if progress.enabled else None)  # at the head already: nothing to do
    finally:
        target.dispose()
    head = head_revision()
    if before == head:
        click.echo(f"the database is at revision {head} already: nothing to do")
    else:
        click.echo(f"upgraded the database from {before or 'no revision'} to revision {head}")


@click.command("purge")
@click.option("--idle-days", type=click.FloatRange(min=0), required=True, help="Delete sessions idle longer than this.")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted, delete nothing.")
def purge(idle_days: float, dry_run: bool) -> None:
    """Delete sessions (and their messages) idle for more than --idle-days days, and expired idempotency keys."""
    service = MaintenanceService(store_engine(command_settings()))
    with TerminalProgress("purging sessions") as progress:
        report = service.purge_idle_sessions(
            idle_days, dry_run=dry_run, progress=progress if progress.enabled and not dry_run else None
        )
    verb = "would delete" if report.dry_run else "deleted"
    click.echo(
        f"{verb} {report.sessions} session(s) and {report.messages} message(s) "
        f"last active before {report.cutoff.isoformat(timespec='seconds')}"
        + ("" if report.dry_run else f"; {report.expired_keys} expired idempotency key(s)")
    )


@click.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False))
def backup(destination: str) -> None:
    """Write a consistent copy of the live SQLite database to DESTINATION (a new file)."""
    service = MaintenanceService(store_engine(command_settings()))
    with TerminalProgress("backing up pages") as progress:
        counts = service.backup_sqlite(destination, progress=progress if progress.enabled else None)
    click.echo(f"backed up {counts['sessions']} session(s) and {counts['chat_history']} message(s) to {destination}")


@click.command("copy-to-postgres")
@click.argument("target_url")
def copy_to_postgres(target_url: str) -> None:
    """Copy the configured SQLite database into the empty PostgreSQL database at TARGET_URL."""
    source = sa.make_url(command_settings()["DATABASE_URL"])
    if source.get_backend_name() != "sqlite":
        raise click.UsageError("the configured database is not SQLite; set SESSION_DB_PATH to the file to copy")
    with TerminalProgress("copying") as progress:
        report = copy_sqlite_to_postgres(source.database, target_url, progress.for_table if progress.enabled else None)
    click.echo(
        f"copied {report.sessions} session(s) and {report.messages} message(s); "
        f"new message ids will start above {report.id_sequence}"
    )
    others = {table: rows for table, rows in report.rows.items() if table not in ("sessions", "chat_history")}
    if others:
        click.echo("and rows of " + ", ".join(f"{table}: {rows}" for table, rows in others.items()))
    for label, items in (
        ("timestamps that could not be read, stored as NULL", report.unreadable_timestamps),
        ("metadata values that were not JSON, stored as NULL", report.non_json_metadata),
        ("sessions created for messages whose session row was missing", report.sessions_created_for_orphans),
    ):
        if items:
            click.echo(f"{len(items)} {label}: " + ", ".join(items[:50]) + (" ..." if len(items) > 50 else ""))


@click.command("assign-owners")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--batch-rows", type=click.IntRange(min=1), default=BATCH_ROWS, show_default=True, help="Rows per transaction."
)
def assign_owners_command(csv_file, batch_rows: int) -> None:
    """Give legacy sessions (no owner yet) the owners a CSV names: header session_id,owner or
    device_fingerprint,owner."""
    configured = command_settings()
    key, rows = read_assignments(csv_file)
    report = assign_owners(store_engine(configured), configured["LIMITS"], key, rows, batch_rows)
    click.echo(
        f"{report.rows} row(s) by {key}: {report.matched_rows} matched, {report.sessions_assigned} session(s) "
        f"given an owner; {len(report.unmatched)} unmatched, {len(report.refused)} refused"
    )
    for label, items in (("unmatched (no session without an owner)", report.unmatched), ("refused", report.refused)):
        if items:
            shown = ", ".join(f"line {line}: {what}" for line, what in items[:50])
            click.echo(f"{label}: {shown}" + (" ..." if len(items) > 50 else ""))


@click.command("compact")
def compact() -> None:
    """Give back the space that deletes (a purge) freed: VACUUM (SQLite, PostgreSQL)."""
    report = MaintenanceService(store_engine(command_settings())).compact()
    click.echo(f"compacted: {report.before:,} bytes before, {report.after:,} bytes after")


def _owner_service() -> SessionService:
    configured = command_settings()
    return SessionService(store_engine(configured), limits=configured["LIMITS"])


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return f"cli:uid-{os.getuid()}"


@click.command("export")
@click.option("--owner", required=True, help="Whose data: the owner (a token's sub) of the sessions.")
@click.option(
    "--output",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="The file to write (default: stdout).",
)
def export(owner: str, output) -> None:
    """Write everything stored of OWNER as NDJSON: each session, then its messages, summaries and turns."""
    end = {}
    for record in _owner_service().export_owner(owner, actor=_actor()):
        output.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        end = record
    output.flush()
    click.echo(f"exported {end['sessions']} session(s) and {end['messages']} message(s) of {owner}", err=True)


@click.command("erase")
@click.option("--owner", required=True, help="Whose data: the owner (a token's sub) of the sessions.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(owner: str, yes: bool) -> None:
    """Erase every session of OWNER with its messages, turns, summaries, leases and idempotency keys, for good."""
    if not yes:
        click.confirm(f"Erase every session of {owner!r} and all that hangs off it, for good?", abort=True)
    erased = _owner_service().erase_owner(owner, actor=_actor()).as_dict()
    counts = ", ".join(f"{count} {kind}" for kind, count in erased["erased"].items())
    scrubbed = {True: "; the database file keeps no copy", False: "; the WAL was busy: a later checkpoint clears it"}
    click.echo(f"erased {counts}{scrubbed.get(erased['file_scrubbed'], '')}")


OPERATOR_COMMANDS = (purge, backup, copy_to_postgres, assign_owners_command, compact, export, erase)

main = OperatorGroup(
    "session-store",
    commands=(migrate, *OPERATOR_COMMANDS),
    help="Migrate the session store's database and operate on stored sessions (DATABASE_URL, else SESSION_DB_PATH).",
)

# The same command objects under the Flask app: `flask --app wsgi sessions purge ...` reads the app's settings.
sessions_cli = OperatorGroup("sessions", commands=OPERATOR_COMMANDS, help="Operate on stored sessions.")
