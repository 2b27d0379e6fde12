"""Operator commands: `flask --app wsgi sessions ...`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from backend.services.maintenance import MaintenanceService

sessions_cli = AppGroup("sessions", help="Operate on stored sessions.")


@sessions_cli.command("purge")
@click.option("--idle-days", type=click.FloatRange(min=0), required=True, help="Delete sessions idle longer than this.")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted, delete nothing.")
def purge(idle_days: float, dry_run: bool) -> None:
    """Delete sessions (and their messages) idle for more than --idle-days days."""
    report = MaintenanceService(current_app.config["DATABASE_URL"]).purge_idle_sessions(idle_days, dry_run=dry_run)
    verb = "would delete" if report.dry_run else "deleted"
    click.echo(
        f"{verb} {report.sessions} session(s) and {report.messages} message(s) "
        f"last active before {report.cutoff.isoformat(timespec='seconds')}"
    )


@sessions_cli.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False))
def backup(destination: str) -> None:
    """Write a consistent copy of the live SQLite database to DESTINATION (a new file)."""
    counts = MaintenanceService(current_app.config["DATABASE_URL"]).backup_sqlite(destination)
    click.echo(f"backed up {counts['sessions']} session(s) and {counts['chat_history']} message(s) to {destination}")
