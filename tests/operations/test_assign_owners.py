"""`flask --app wsgi sessions assign-owners FILE.csv` on an operator's legacy sessions.db."""

from __future__ import annotations

import pytest

from backend import create_app, settings
from backend.services.errors import SessionNotFound
from backend.services.session import SessionService
from backend.store.engines import create_engine
from backend.store.migrations import upgrade_to_head
from tests.legacy import ODD_METADATA, build_legacy_database


@pytest.fixture
def legacy_url(tmp_path):
    path = tmp_path / "sessions.db"
    build_legacy_database(path)
    upgrade_to_head(create_engine(f"sqlite:///{path}"))
    return f"sqlite:///{path}"


def run(database_url, tmp_path, text, *options):
    csv_path = tmp_path / "owners.csv"
    csv_path.write_text(text, encoding="utf-8")
    app = create_app(settings.TestingConfig(DATABASE_URL=database_url))
    return app.test_cli_runner().invoke(args=["sessions", "assign-owners", str(csv_path), *options])


def owners(url):
    service = SessionService(url)
    return {s.session_id: s.owner for s in service.list_sessions(limit=500).sessions}


def test_owners_by_session_id_are_assigned_and_unmatched_rows_reported(legacy_url, tmp_path):
    text = (
        "session_id,owner\nlegacy-web,alice\nmd-null,bob\nnever-existed,carol\nlegacy id with spaces/and slash,dave\n"
    )
    result = run(legacy_url, tmp_path, text, "--batch-rows", "2")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "4 row(s) by session_id: 3 matched, 3 session(s) given an owner; 1 unmatched, 0 refused"
    )
    assert "line 4: never-existed" in result.output
    found = owners(legacy_url)
    assert (found["legacy-web"], found["md-null"], found["legacy id with spaces/and slash"]) == ("alice", "bob", "dave")
    assert found["md-list"] is None
    # The assigned owner now reaches its session, and another does not.
    service = SessionService(legacy_url)
    assert [m.content for m in service.get_chat_history("legacy-web", owner="alice")][0] == "You help."
    with pytest.raises(SessionNotFound):
        service.get_session("legacy-web", owner="bob")


def test_owners_by_device_fingerprint_assign_every_session_of_that_device(legacy_url, tmp_path):
    SessionService(legacy_url).get_or_create_session("second-on-web", device_fingerprint="fp-web")
    result = run(legacy_url, tmp_path, "device_fingerprint,owner\nfp-web,alice\nfp-gone,bob\n")
    assert result.exit_code == 0, result.output
    assert "2 row(s) by device_fingerprint: 1 matched, 2 session(s) given an owner; 1 unmatched" in result.output
    found = owners(legacy_url)
    assert (found["legacy-web"], found["second-on-web"]) == ("alice", "alice")


def test_a_session_that_has_an_owner_keeps_it(legacy_url, tmp_path):
    run(legacy_url, tmp_path, "session_id,owner\nlegacy-web,alice\n")
    result = run(legacy_url, tmp_path, "session_id,owner\nlegacy-web,mallory\n")
    assert "0 matched" in result.output and "line 2: legacy-web" in result.output
    assert owners(legacy_url)["legacy-web"] == "alice"


def test_bad_rows_are_refused_and_named_the_rest_assigned(legacy_url, tmp_path):
    result = run(legacy_url, tmp_path, "session_id,owner\nlegacy-web,\nmd-null\nmd-list,erin\n")
    assert "3 row(s) by session_id: 1 matched" in result.output and "2 refused" in result.output
    assert "line 2: owner: must be a non-empty string" in result.output
    assert owners(legacy_url)["md-list"] == "erin" and owners(legacy_url)["legacy-web"] is None


def test_a_file_without_the_header_is_refused_and_changes_nothing(legacy_url, tmp_path):
    result = run(legacy_url, tmp_path, "legacy-web,alice\n")
    assert result.exit_code == 1 and "header: must be session_id,owner or device_fingerprint,owner" in result.output
    assert set(owners(legacy_url).values()) == {None}
    assert len(owners(legacy_url)) == 2 + 9 + len(ODD_METADATA)


def test_the_owner_column_cannot_be_downgraded_away_once_assigned(legacy_url, tmp_path):
    from alembic import command
    from backend.store.migrations import alembic_config

    run(legacy_url, tmp_path, "session_id,owner\nlegacy-web,alice\n")
    with pytest.raises(RuntimeError, match="Refusing to downgrade: 1 session"):
        command.downgrade(alembic_config(create_engine(legacy_url)), "0002")
    # Left at revision 0003, below what the service reads: the column is read as it is stored.
    with create_engine(legacy_url).connect() as connection:
        stored = connection.exec_driver_sql("SELECT owner FROM sessions WHERE session_id = 'legacy-web'").scalar()
    assert stored == "alice"


def test_assignment_works_on_both_databases(database_url, tmp_path, service):
    for sid, fingerprint in (("a1", "phone"), ("a2", "phone"), ("b1", "laptop")):
        service.get_or_create_session(sid, device_fingerprint=fingerprint)
    result = run(
        database_url, tmp_path, "device_fingerprint,owner\nphone,alice\nlaptop,bob\ntablet,carol\n", "--batch-rows", "1"
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[0]
        == "3 row(s) by device_fingerprint: 2 matched, 3 session(s) given an owner; 1 unmatched, 0 refused"
    )
    assert owners(database_url) == {"a1": "alice", "a2": "alice", "b1": "bob"}
