"""Operator commands through Flask's CLI runner, as `flask --app wsgi sessions ...` runs them."""

from datetime import UTC, datetime, timedelta

from backend import create_app, settings
from tests.factories import SessionFactory


def run(database_url, *args):
    app = create_app(settings.TestingConfig(DATABASE_URL=database_url))
    return app.test_cli_runner().invoke(args=["sessions", *args])


def test_purge_dry_run_reports_and_keeps_everything(database_url, db, service):
    SessionFactory(session_id="old", last_active=datetime.now(UTC) - timedelta(days=40))
    result = run(database_url, "purge", "--idle-days", "30", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("would delete 1 session(s) and 0 message(s)")
    assert service.get_session("old").session_id == "old"


def test_purge_deletes_idle_sessions(database_url, db, service):
    SessionFactory(session_id="old", last_active=datetime.now(UTC) - timedelta(days=40))
    SessionFactory(session_id="fresh")
    result = run(database_url, "purge", "--idle-days", "30")
    assert result.output.startswith("deleted 1 session(s)")
    assert service.get_session("fresh").session_id == "fresh"


def test_purge_needs_a_non_negative_number_of_days(database_url):
    result = run(database_url, "purge", "--idle-days", "-3")
    assert result.exit_code == 2 and "-3" in result.output


def test_backup_writes_a_copy_and_says_what_it_holds(tmp_path, sqlite_template):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    result = run(url, "backup", str(tmp_path / "copy.db"))
    assert result.exit_code == 0, result.output
    assert "backed up 0 session(s) and 0 message(s)" in result.output
    assert (tmp_path / "copy.db").stat().st_size > 0


def test_backup_refusal_is_a_clean_message_not_a_traceback(tmp_path, sqlite_template):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    (tmp_path / "taken.db").write_text("x")
    result = run(url, "backup", str(tmp_path / "taken.db"))
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.output and "Traceback" not in result.output
    assert result.output.count("destination") == 1


def test_copy_to_postgres_from_a_database_that_is_not_sqlite_is_refused(postgres_schema):
    result = run(postgres_schema.url, "copy-to-postgres", postgres_schema.url)
    assert result.exit_code == 2 and "not SQLite" in result.output
