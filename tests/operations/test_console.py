"""The `session-store` console commands without a Flask app: migrate, the settings they read, and a database they
cannot reach in one line."""

from __future__ import annotations

import socket
import sqlite3

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backend import create_app, settings
from backend.cli import main
from backend.store.engines import create_engine
from backend.store.migrations import head_revision
from tests.databases import postgres_url_or_skip, url_with_schema
from tests.legacy import assert_legacy_rows_kept, build_legacy_database, dump


def session_store(*args: str, **env: str | None):
    """`session-store args...` with `env` over this process's environment (None unsets a variable)."""
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def closed_port():
    """A loopback port bound by no listener: a connection to it is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, never listening: nobody else can take the port meanwhile
        yield held.getsockname()[1]


def stored_revision(path) -> list[tuple[str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        conn.close()


def test_migrate_builds_the_schema_and_a_second_run_does_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'sessions.db'}"
    first = session_store("migrate", DATABASE_URL=url)
    assert first.exit_code == 0, first.output
    assert first.output == f"upgraded the database from no revision to revision {head_revision()}\n"
    assert stored_revision(tmp_path / "new" / "sessions.db") == [(head_revision(),)]
    once = dump(tmp_path / "new" / "sessions.db")
    second = session_store("migrate", DATABASE_URL=url)
    assert second.exit_code == 0, second.output
    assert second.output == f"the database is at revision {head_revision()} already: nothing to do\n"
    assert dump(tmp_path / "new" / "sessions.db") == once


def test_without_database_url_the_commands_use_session_db_path(tmp_path):
    result = session_store("migrate", DATABASE_URL=None, SESSION_DB_PATH=str(tmp_path / "fallback.db"))
    assert result.exit_code == 0, result.output
    assert stored_revision(tmp_path / "fallback.db") == [(head_revision(),)]
    purged = session_store(
        "purge", "--idle-days", "1", DATABASE_URL=None, SESSION_DB_PATH=str(tmp_path / "fallback.db")
    )
    assert purged.exit_code == 0 and purged.output.startswith("deleted 0 session(s)")


def test_migrate_adopts_a_legacy_file_and_keeps_every_row(tmp_path):
    path = tmp_path / "sessions.db"
    build_legacy_database(path)
    before = dump(path)
    result = session_store("migrate", DATABASE_URL=f"sqlite:///{path}")
    assert result.exit_code == 0, result.output
    after = dump(path)
    assert_legacy_rows_kept(before, after)


def test_migrate_on_postgresql_builds_the_schema_once(tmp_path):
    base_url = postgres_url_or_skip()
    schema = f"console_{tmp_path.name[-20:]}".replace("-", "_").lower()
    admin = sa.create_engine(base_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    url = url_with_schema(base_url, schema)
    try:
        first, second = session_store("migrate", DATABASE_URL=url), session_store("migrate", DATABASE_URL=url)
        assert first.output == f"upgraded the database from no revision to revision {head_revision()}\n"
        assert second.output == f"the database is at revision {head_revision()} already: nothing to do\n"
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == head_revision()
            assert set(sa.inspect(conn).get_table_names()) >= {"sessions", "chat_history", "alembic_version"}
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


COMMANDS = [["migrate"], ["purge", "--idle-days", "1"], ["purge", "--idle-days", "1", "--dry-run"], ["compact"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_closed_postgresql_port_is_the_drivers_first_line_and_status_1(closed_port, command):
    result = session_store(*command, DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{closed_port}/none")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f'Error: database error: connection failed: connection to server at "127.0.0.1", port {closed_port} '
        "failed: Connection refused"
    ]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_sqlite_file_whose_directory_cannot_be_made_is_one_line_and_status_1(tmp_path, command):
    (tmp_path / "a-file").write_text("not a directory")
    result = session_store(*command, DATABASE_URL=f"sqlite:///{tmp_path / 'a-file' / 'data' / 'sessions.db'}")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: database error: [Errno 20] Not a directory: '{tmp_path / 'a-file' / 'data'}'"
    ]


def test_flask_sessions_runs_the_same_commands_with_the_same_one_line_errors(closed_port):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port}/none"
    app = create_app(settings.TestingConfig(DATABASE_URL=url))
    through_flask = app.test_cli_runner().invoke(args=["sessions", "purge", "--idle-days", "1"])
    through_console = session_store("purge", "--idle-days", "1", DATABASE_URL=url)
    assert (through_flask.exit_code, through_flask.output) == (through_console.exit_code, through_console.output)
    assert through_flask.output.startswith("Error: database error: connection failed")
    assert app.cli.commands["sessions"].commands["purge"] is main.commands["purge"]


def test_a_setting_that_is_not_valid_is_one_line_and_status_1(tmp_path):
    result = session_store("compact", DATABASE_URL=f"sqlite:///{tmp_path / 's.db'}", AUTH_MODE="bogus")
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Error: AUTH_MODE must be one of none, jwt, not 'bogus'"]
