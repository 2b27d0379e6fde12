"""Operator ergonomics of `session-store`: one-line database errors, a live source refused, compact, standalone
backups, progress on a terminal."""

from __future__ import annotations

import os
import pty
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backend.cli import main
from backend.services.errors import InvalidInput
from backend.services.session import SessionService
from backend.services.transfer import copy_sqlite_to_postgres
from backend.settings import PROJECT_ROOT
from tests.rows import row_counts
from tests.servers import server_env


def run(database_url, *args):
    """`session-store args...` with DATABASE_URL set, no Flask app."""
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": database_url})


def _fill(service, sessions=30, messages=20, idle_days=40):
    old = datetime.now(UTC) - timedelta(days=idle_days)
    for i in range(sessions):
        service.get_or_create_session(f"old-{i}")
        for _ in range(messages):
            service.save_message(f"old-{i}", "user", "x" * 2000)
    with service.engine.begin() as conn:
        stamp = (
            old.replace(tzinfo=None) if service.engine.dialect.name != "sqlite" else old.strftime("%Y-%m-%d %H:%M:%S")
        )
        conn.execute(sa.text("UPDATE sessions SET last_active = :t"), {"t": stamp})


def test_a_mistyped_target_database_is_one_line_and_status_1(tmp_path, sqlite_template, postgres_schema):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    target = sa.make_url(postgres_schema.base_url).set(database="no_such_database_here")
    result = run(url, "copy-to-postgres", target.render_as_string(hide_password=False))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: database error: ")
    assert "no_such_database_here" in lines[0] and "Traceback" not in result.output


def test_an_unreachable_database_is_one_line_and_status_1(tmp_path):
    result = run("postgresql+psycopg://nobody@127.0.0.1:1/none", "purge", "--idle-days", "1")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: database error: connection failed: ") and "port 1" in result.output


def test_copying_a_source_that_is_being_written_is_refused_and_commits_nothing(
    tmp_path, sqlite_template, postgres_schema
):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    writer = SessionService(url)
    writer.get_or_create_session("busy")
    postgres_schema.empty()
    stop = threading.Event()

    def keep_writing():
        while not stop.is_set():
            writer.save_message("busy", "user", "still being written")
            stop.wait(0.05)

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        with pytest.raises(InvalidInput) as refused:
            copy_sqlite_to_postgres(str(tmp_path / "live.db"), postgres_schema.url, probe_s=0.5)
    finally:
        stop.set()
        thread.join(10)
    assert "being written" in str(refused.value) and "server" in str(refused.value)
    assert row_counts(postgres_schema.engine) == (0, 0)


def test_compact_after_a_purge_gives_space_back(database_url):
    service = SessionService(database_url)
    _fill(service)
    assert run(database_url, "purge", "--idle-days", "30").exit_code == 0
    result = run(database_url, "compact")
    assert result.exit_code == 0, result.output
    before, after = (int(n.replace(",", "")) for n in re.findall(r"([\d,]+) bytes", result.output))
    if service.engine.dialect.name == "sqlite":
        assert after < before - 600_000  # 600 messages of 2 kB were deleted
    else:
        assert after <= before  # PostgreSQL's VACUUM makes the space reusable; it rarely shrinks files
    assert row_counts(service.engine) == (0, 0)


def test_a_backup_is_a_standalone_file_not_in_wal_mode(tmp_path, sqlite_template):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    SessionService(url).get_or_create_session("kept")
    assert run(url, "backup", str(tmp_path / "copy.db")).exit_code == 0
    moved = tmp_path / "elsewhere.db"
    (tmp_path / "copy.db").rename(moved)
    conn = sqlite3.connect(moved)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT session_id FROM sessions").fetchall() == [("kept",)]
    conn.close()
    assert not (tmp_path / "copy.db-wal").exists()


def _on_a_terminal(database_url, *args) -> tuple[int, str]:
    """Run `session-store ...` (as `python -m backend`) with its stderr on a pseudo-terminal; exit status and what the
    terminal showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", *args],
        cwd=PROJECT_ROOT,
        env=server_env(database_url, COLUMNS="100"),
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not chunk:
            break
        shown += chunk
    stdout = process.communicate(timeout=120)[0]
    os.close(controller)
    return process.returncode, shown.decode(errors="replace") + stdout.decode()


@pytest.mark.slow  # runs the command on a pseudo-terminal
def test_purge_and_backup_show_progress_on_a_terminal_and_none_in_a_pipe(database_url, tmp_path):
    service = SessionService(database_url)
    _fill(service, sessions=1200, messages=0)
    status, shown = _on_a_terminal(database_url, "purge", "--idle-days", "30")
    assert status == 0, shown
    assert "purging sessions" in shown and "1200/1200" in shown and "deleted 1200 session(s)" in shown
    piped = run(database_url, "purge", "--idle-days", "30")
    assert "purging" not in piped.output
    if service.engine.dialect.name == "sqlite":
        status, shown = _on_a_terminal(database_url, "backup", str(tmp_path / "b.db"))
        assert status == 0 and "backing up pages" in shown and re.search(r"\b([1-9]\d*)/\1\b", shown)


def test_the_copy_reports_progress_per_table_up_to_every_row(tmp_path, sqlite_template, postgres_schema):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    service = SessionService(url)
    for i in range(3):
        service.get_or_create_session(f"p-{i}")
        service.save_message(f"p-{i}", "user", "hello")
    postgres_schema.empty()
    seen = []
    report = copy_sqlite_to_postgres(
        str(tmp_path / "live.db"), postgres_schema.url, lambda *step: seen.append(step), probe_s=0.1
    )
    assert (report.sessions, report.messages) == (3, 3)
    assert seen == [("sessions", 3, 3), ("chat_history", 3, 3)]
