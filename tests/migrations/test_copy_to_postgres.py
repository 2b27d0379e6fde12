"""Moving a legacy SQLite store to PostgreSQL: every id, time, count and message reads the same."""

import sqlite3

import pytest

from backend.services.errors import InvalidInput
from backend.services.session import SessionService
from backend.services.transfer import copy_sqlite_to_postgres
from backend.store.engines import create_engine
from backend.store.migrations import upgrade_to_head
from tests.legacy import ODD_METADATA, ODD_TIMESTAMPS, ORPHAN_SESSION_ID, build_legacy_database


@pytest.fixture
def legacy_sqlite(tmp_path):
    path = tmp_path / "sessions.db"
    build_legacy_database(path)
    upgrade_to_head(create_engine(f"sqlite:///{path}"))
    return path


@pytest.fixture
def empty_postgres(postgres_schema):
    postgres_schema.empty()
    return postgres_schema.url


def test_every_session_and_message_reads_the_same_after_the_copy(legacy_sqlite, empty_postgres):
    report = copy_sqlite_to_postgres(str(legacy_sqlite), empty_postgres)
    source, target = SessionService(f"sqlite:///{legacy_sqlite}"), SessionService(empty_postgres)
    conn = sqlite3.connect(legacy_sqlite)
    session_ids = [row[0] for row in conn.execute("SELECT session_id FROM sessions")]
    message_count = conn.execute("SELECT count(*) FROM chat_history").fetchone()[0]
    conn.close()
    assert (report.sessions, report.messages) == (len(session_ids), message_count)
    for session_id in session_ids:
        assert target.get_session(session_id) == source.get_session(session_id)
        assert target.get_chat_history(session_id, limit=500) == source.get_chat_history(session_id, limit=500)
    assert target.get_chat_history(ORPHAN_SESSION_ID) == source.get_chat_history(ORPHAN_SESSION_ID)
    assert report.sessions_created_for_orphans == [ORPHAN_SESSION_ID]


def test_the_report_names_every_value_that_could_not_be_kept(legacy_sqlite, empty_postgres):
    report = copy_sqlite_to_postgres(str(legacy_sqlite), empty_postgres)
    assert "sessions[ts-garbage].created_at" in report.unreadable_timestamps
    unreadable = [k for k, (stored, expected) in ODD_TIMESTAMPS.items() if stored is not None and expected is None]
    assert len(report.unreadable_timestamps) == 3 * len(unreadable)  # created_at, last_active, one message each
    not_json = {
        k
        for k, (stored, _) in ODD_METADATA.items()
        if stored in ("{not json", "{'a': 1}", "", "[" * 100_000 + "]" * 100_000)
    }
    assert {w.split("[")[1].split("]")[0] for w in report.non_json_metadata if w.startswith("sessions")} == not_json


def test_new_messages_after_the_copy_never_reuse_a_legacy_id(legacy_sqlite, empty_postgres):
    report = copy_sqlite_to_postgres(str(legacy_sqlite), empty_postgres)
    new_id = SessionService(empty_postgres).save_message("legacy-web", "user", "after the move")
    assert new_id == report.id_sequence + 1
    assert SessionService(empty_postgres).get_session("legacy-web").message_count == 4


def test_copying_into_a_database_that_holds_sessions_is_refused(legacy_sqlite, empty_postgres):
    SessionService(empty_postgres).get_or_create_session("already-here")
    with pytest.raises(InvalidInput, match="empty"):
        copy_sqlite_to_postgres(str(legacy_sqlite), empty_postgres)
    assert SessionService(empty_postgres).get_session("already-here").message_count == 0


def test_owners_are_carried_over_to_postgres(legacy_sqlite, empty_postgres):
    from backend.services.ownership import assign_owners
    from backend.settings import Limits

    assign_owners(create_engine(f"sqlite:///{legacy_sqlite}"), Limits(), "session_id", [(2, "legacy-web", "alice")])
    copy_sqlite_to_postgres(str(legacy_sqlite), empty_postgres)
    target = SessionService(empty_postgres)
    assert target.get_session("legacy-web", owner="alice").owner == "alice"
    assert [s.session_id for s in target.list_sessions(owner="alice").sessions] == ["legacy-web"]


def test_summaries_and_token_counts_are_carried_over(legacy_sqlite, empty_postgres):
    source = SessionService(f"sqlite:///{legacy_sqlite}")
    said = source.add_message("legacy-web", "user", "a message counted when written")
    summary = source.add_summary("legacy-web", "what was said so far", covers_through=said.id)
    before = source.get_context("legacy-web", max_tokens=100_000)
    copy_sqlite_to_postgres(str(legacy_sqlite), empty_postgres)
    target = SessionService(empty_postgres)
    assert target.get_context("legacy-web", max_tokens=100_000) == before and before.summary == summary
    assert target.add_summary("legacy-web", "a newer summary", covers_through=said.id).id == summary.id + 1


def test_a_source_at_an_older_revision_copies_without_the_columns_it_lacks(tmp_path, empty_postgres):
    path = tmp_path / "sessions.db"
    build_legacy_database(path)  # not migrated: no token_count, no summaries
    report = copy_sqlite_to_postgres(str(path), empty_postgres)
    assert report.messages > 0
    window = SessionService(empty_postgres).get_context("legacy-web", max_tokens=100_000)
    assert [m.content for m in window.messages] == ["You help.", "Hello!", "Hi there"]  # counted on this first read
