"""The package installs on its own, migrations and console commands included, and serves an agent process outside
the checkout."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from backend.settings import PROJECT_ROOT
from backend.store.engines import create_engine
from backend.store.migrations import head_revision, upgrade_to_head
from tests.legacy import assert_legacy_rows_kept, build_legacy_database, dump

# The README's Python snippet, as an agent process in another repository would run it.
SNIPPET = textwrap.dedent("""
    import backend
    from backend.services.session import SessionService

    service = SessionService()
    session = service.get_or_create_session(session_id="abc123", metadata={"client": "web"})
    message_id = service.save_message(session_id="abc123", role="user", content="Hello!")
    history = service.get_chat_history(session_id="abc123", limit=50)
    stats = service.get_session_stats(session_id="abc123")
    print(backend.__file__, message_id, [m.content for m in history], stats.message_count)
""")

# The console's pages, script and styles, served by an installed server.
CONSOLE_CODE = textwrap.dedent("""
    from backend import create_app
    from backend.settings import TestingConfig

    app = create_app(TestingConfig(ADMIN_TOKEN="operator-token-0123456789"))
    client = app.test_client()
    sign_in, script = client.get("/console/sign-in"), client.get("/console/static/console.js")
    form = 'type="password"' in sign_in.text
    print(app.blueprints["console"].root_path, sign_in.status_code, form, script.status_code)
    script.close()
""")

# What pyproject.toml installs as backend._migrations: the checkout's alembic/ (their one source).
MIGRATION_FILES = ("env.py", "script.py.mako", "versions/*.py")


def test_pyproject_lists_every_package_of_backend():
    listed = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {
        ".".join(p.parent.relative_to(PROJECT_ROOT).parts) for p in (PROJECT_ROOT / "backend").rglob("__init__.py")
    }
    assert set(listed) == found | {"backend._migrations", "backend._migrations.versions"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package as `pip install` puts it into an agent's environment (here a --target folder); its folder."""
    source, target = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("site")
    # A copy of what a checkout holds, so the build's own files land outside the checkout.
    for folder in ("backend", "alembic"):
        shutil.copytree(PROJECT_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    # With build isolation pip brings the setuptools that pyproject.toml asks for (a new venv's own is too old).
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return target


def run_installed(installed: Path, cwd: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    """`args` run from `cwd` against the installed package alone, with only DATABASE_URL set."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(installed), "DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
    )


def session_store(installed: Path, cwd: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    """The installed console script."""
    return run_installed(installed, cwd, database_url, str(installed / "bin" / "session-store"), *args)


def relative_files(folder: Path, *patterns: str) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for pattern in patterns for p in sorted(folder.glob(pattern))}


@pytest.mark.slow
def test_the_install_holds_every_module_and_the_checkouts_revisions(installed):
    # Only the package's own name is importable: no generic top-level module such as `config`; bin/ has the script.
    top_level = sorted(p.name for p in installed.iterdir() if not p.name.endswith(".dist-info"))
    assert top_level == ["backend", "bin"]
    assert (installed / "bin" / "session-store").is_file()
    modules = relative_files(installed / "backend", "**/*.py")
    checkout = relative_files(PROJECT_ROOT / "backend", "**/*.py")
    assert {name: text for name, text in modules.items() if not name.startswith("_migrations/")} == checkout
    revisions = relative_files(PROJECT_ROOT / "alembic", *MIGRATION_FILES)
    assert relative_files(installed / "backend" / "_migrations", *MIGRATION_FILES) == revisions
    assert len([name for name in revisions if name.startswith("versions/")]) >= 4


@pytest.mark.slow
def test_an_installed_server_serves_the_console_from_its_own_templates_and_static_files(installed, tmp_path):
    console_files = ("templates/console/*.html", "static/*")
    ui = PROJECT_ROOT / "backend" / "ui"
    assert relative_files(installed / "backend" / "ui", *console_files) == relative_files(ui, *console_files)
    run = run_installed(installed, tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", sys.executable, "-c", CONSOLE_CODE)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(installed / "backend" / "ui"), "200", "True", "200"]


@pytest.mark.slow
def test_the_installed_package_finds_its_own_revisions(installed, tmp_path):
    code = (
        "from backend.store.migrations import head_revision, script_location; print(head_revision(), script_location())"
    )
    run = run_installed(installed, tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", sys.executable, "-c", code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [head_revision(), str(installed / "backend" / "_migrations")]


@pytest.mark.slow
def test_session_store_migrate_builds_the_schema_the_checkout_builds_and_a_second_run_changes_nothing(
    installed, tmp_path
):
    elsewhere, database, reference = tmp_path / "agent", tmp_path / "agent.db", tmp_path / "reference.db"
    elsewhere.mkdir()
    first = session_store(installed, elsewhere, f"sqlite:///{database}", "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"upgraded the database from no revision to revision {head_revision()}\n"
    conn = sqlite3.connect(database)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    conn.close()
    assert {"sessions", "chat_history", "idempotency_keys", "turn_leases", "alembic_version"} <= tables
    upgrade_to_head(create_engine(f"sqlite:///{reference}"))
    once = dump(database)
    assert once == dump(reference)
    second = session_store(installed, elsewhere, f"sqlite:///{database}", "migrate")
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"the database is at revision {head_revision()} already: nothing to do\n"
    assert dump(database) == once


@pytest.mark.slow
def test_session_store_migrate_adopts_a_legacy_file_as_alembic_upgrade_head_does(installed, tmp_path):
    by_alembic, by_console = tmp_path / "alembic" / "sessions.db", tmp_path / "console" / "sessions.db"
    by_alembic.parent.mkdir()
    by_console.parent.mkdir()
    # One legacy file, copied: built twice, its rows' CURRENT_TIMESTAMP defaults could fall in two seconds.
    build_legacy_database(by_alembic)
    shutil.copyfile(by_alembic, by_console)
    before = dump(by_console)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        env={"PATH": "", "DATABASE_URL": f"sqlite:///{by_alembic}"},
        check=True,
        capture_output=True,
    )
    result = session_store(installed, tmp_path, f"sqlite:///{by_console}", "migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"upgraded the database from no revision to revision {head_revision()}\n"
    after = dump(by_console)
    assert after == dump(by_alembic)
    # Every legacy row and value as it was; the one column migrations add to sessions (value, type) is NULL.
    assert_legacy_rows_kept(before, after)


@pytest.mark.slow
def test_an_installed_package_serves_the_readme_snippet_from_another_directory(installed, tmp_path):
    elsewhere, database = tmp_path / "agent", tmp_path / "agent.db"
    elsewhere.mkdir()
    migrated = session_store(installed, elsewhere, f"sqlite:///{database}", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    run = run_installed(installed, elsewhere, f"sqlite:///{database}", sys.executable, "-c", SNIPPET)
    assert run.returncode == 0, run.stderr
    location, message_id, contents, count = run.stdout.split(" ", 3)
    assert location.startswith(str(installed)) and message_id == "1"
    assert contents.strip() + " " + count.strip() == "['Hello!'] 1"


@pytest.mark.slow
def test_the_installed_command_reports_a_database_it_cannot_open_in_one_line(installed, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    result = session_store(installed, tmp_path, f"sqlite:///{tmp_path / 'a-file' / 'data' / 'sessions.db'}", "migrate")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"Error: database error: [Errno 20] Not a directory: '{tmp_path / 'a-file' / 'data'}'"
    ]
