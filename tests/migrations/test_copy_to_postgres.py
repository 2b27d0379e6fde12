"""Moving a legacy SQLite store to PostgreSQL: every id, time, count and message reads the same."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.models import Base
from backend.services.errors import InvalidInput
from backend.services.session import SessionService
from backend.services.transfer import copy_sqlite_to_postgres
from backend.services.turns.service import ChatService
from backend.store.engines import create_engine
from backend.store.migrations import upgrade_to_head
from backend.store.transfer import copied_tables
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


def _fill_every_table(url: str) -> None:
    """Rows in every table, each written as the service writes it: a session with a keyed message, a chat turn
    and its events, a rewound (superseded) reply, a summary, and the lease of a turn that was running."""
    service = SessionService(url)
    service.get_or_create_session("copied", metadata={"client": "web"}, device_fingerprint="device-1")
    said = service.add_message("copied", "user", "hello", idempotency_key="key-1")
    ChatService(service, lambda request: "a reply", timeout_s=5).chat("copied", "and now?")
    service.rewind("copied", said.id)
    service.add_message("copied", "user", "said again")
    service.add_summary("copied", "what was said so far", covers_through=said.id)
    now = datetime.now(UTC)
    with service.uow.write() as store:
        assert store.leases.take("copied", "a-server-that-stopped", now, now + timedelta(minutes=5))


def _every_row(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the models, read through the models' types, ordered by primary key."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(
                    (tuple(row) for row in conn.execute(sa.select(table))),
                    key=lambda row, t=table: [str(row[t.c.keys().index(c.name)]) for c in t.primary_key.columns],
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


@pytest.mark.parametrize("source", ["migrated", "legacy"])
def test_every_table_arrives_row_for_row(source, sqlite_template, tmp_path, legacy_sqlite, empty_postgres):
    if source == "migrated":
        url = sqlite_template.copy_to(tmp_path / "migrated.db")
    else:  # an adopted legacy file: its odd values, then rows of every table added since
        url = f"sqlite:///{legacy_sqlite}"
    _fill_every_table(url)
    before = _every_row(url)
    assert all(before.values()), {table: len(rows) for table, rows in before.items()}  # nothing left untested
    report = copy_sqlite_to_postgres(sa.make_url(url).database, empty_postgres)
    after = _every_row(empty_postgres)
    assert report.rows == {table: len(rows) for table, rows in before.items()}
    if source == "legacy":  # the values it could not keep are named in the report (above), and stored as NULL
        before, after = _kept(before, report), _kept(after, report)
    assert after == before
    target = SessionService(empty_postgres)
    assert target.add_message("copied", "user", "after the move").id == report.id_sequence + 1
    assert (
        target.add_summary("copied", "newer", covers_through=report.id_sequence + 1).id == len(before["summaries"]) + 1
    )


def _kept(rows: dict[str, list[tuple]], report) -> dict[str, list[tuple]]:
    """The rows whose every value was carried over as it was: not named in the report, not a session made for
    orphaned messages."""
    changed = {w.split("]")[0] + "]" for w in report.unreadable_timestamps + report.non_json_metadata}
    made = {f"sessions[{sid}]" for sid in report.sessions_created_for_orphans}
    keys = {table.name: table.primary_key.columns[0].name for table in Base.metadata.sorted_tables}
    columns = {table.name: table.c.keys() for table in Base.metadata.sorted_tables}
    return {
        table: [row for row in table_rows if f"{table}[{row[columns[table].index(keys[table])]}]" not in changed | made]
        for table, table_rows in rows.items()
    }


def test_a_derived_or_virtual_table_is_never_copied(tmp_path, empty_postgres):
    path = tmp_path / "with-index.db"
    build_legacy_database(path)
    upgrade_to_head(create_engine(f"sqlite:///{path}"))
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE chat_history_search USING fts5(content)")
    conn.execute("INSERT INTO chat_history_search (content) SELECT content FROM chat_history")
    conn.commit()
    metadata = sa.MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    sa.Table("chat_history_search", metadata, sa.Column("content", sa.Text))  # virtual in the source
    sa.Table("sessions_derived", metadata, sa.Column("session_id", sa.Text), info={"derived": True})
    conn.execute("CREATE TABLE sessions_derived (session_id TEXT)")
    assert [t.name for t in copied_tables(conn, metadata)] == [t.name for t in Base.metadata.sorted_tables]
    conn.close()
    report = copy_sqlite_to_postgres(str(path), empty_postgres)
    assert set(report.rows) == {t.name for t in Base.metadata.sorted_tables}
