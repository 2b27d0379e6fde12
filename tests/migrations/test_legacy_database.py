"""An operator's legacy sessions.db: adopted by `alembic upgrade head` untouched, then fully usable."""

import shutil
import subprocess
import sys

import pytest
import sqlalchemy as sa

from backend.services.errors import SessionNotFound
from backend.services.session import SessionService
from backend.settings import PROJECT_ROOT
from backend.store.engines import create_engine
from backend.store.migrations import alembic_config, head_revision, upgrade_to_head
from tests.legacy import (
    LEGACY_DDL,
    ODD_METADATA,
    ODD_TIMESTAMPS,
    ORPHAN_SESSION_ID,
    assert_legacy_rows_kept,
    build_legacy_database,
    dump,
)


@pytest.fixture(scope="module")
def upgraded_once(tmp_path_factory):
    """A legacy file after the operator ran `alembic upgrade head` from the project root, and its dump before."""
    path = tmp_path_factory.mktemp("legacy") / "sessions.db"
    build_legacy_database(path)
    before = dump(path)
    env = {"PATH": "", "SESSION_DB_PATH": str(path)}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True
    )
    return path, before


@pytest.fixture
def upgraded(upgraded_once, tmp_path):
    """A private copy of the upgraded legacy file, and its dump from before the upgrade."""
    path = tmp_path / "sessions.db"
    shutil.copyfile(upgraded_once[0], path)
    return path, upgraded_once[1]


ADDED_INDEXES = {
    "ix_sessions_last_active_session_id",
    "ix_sessions_device_fingerprint_last_active",
    "ix_sessions_owner_last_active",
}
# Revisions 0003 and 0006 are the changes to legacy tables: ALTER TABLE ADD COLUMN puts these in their DDL, after
# the last column (before a table constraint such as chat_history's FOREIGN KEY).
ADDED_COLUMNS = {"sessions": ", owner TEXT", "chat_history": ", token_count INTEGER, superseded_at TIMESTAMP"}
# Revisions 0004, 0005 and 0006: new tables.
ADDED_TABLES = {
    "idempotency_keys",
    "ix_idempotency_keys_expires_at",
    "turn_leases",
    "turns",
    "ix_turns_session_id",
    "ix_turns_ended_at",
    "turn_events",
    "summaries",
    "ix_summaries_session_id",
    # Search (0007): the FTS5 table, its shadow tables and the triggers that keep it.
    "message_search",
    "message_search_data",
    "message_search_idx",
    "message_search_docsize",
    "message_search_config",
    "message_search_insert",
    "message_search_delete",
    "message_search_update",
}


def split_schema(schema_rows, legacy_names):
    """The legacy objects as they are, and the names of objects that migrations added."""
    legacy = [row for row in schema_rows if row[1] in legacy_names]
    return legacy, {row[1] for row in schema_rows if row[1] not in legacy_names}


def without_added_column(schema_rows):
    """The schema with the added columns taken out of the legacy tables' DDL (each checked to be there)."""
    rows = []
    for kind, name, sql in schema_rows:
        if name in ADDED_COLUMNS:
            assert sql.count(ADDED_COLUMNS[name]) == 1, sql
            sql = sql.replace(ADDED_COLUMNS[name], "")
        rows.append((kind, name, sql))
    return rows


def test_upgrade_keeps_every_row_value_type_and_the_legacy_schema(upgraded):
    path, before = upgraded
    after = dump(path)
    assert_legacy_rows_kept(before, after)
    legacy_names = {row[1] for row in before["schema"]}
    legacy_after, added = split_schema(after["schema"], legacy_names)
    assert without_added_column(legacy_after) == before["schema"]
    assert added == ADDED_INDEXES | ADDED_TABLES
    assert len(before["sessions"]) == 2 + len(ODD_TIMESTAMPS) + len(ODD_METADATA)


def test_upgrade_records_the_head_revision(upgraded):
    path, _ = upgraded
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()


def test_models_match_the_upgraded_legacy_schema(upgraded):
    path, _ = upgraded
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "check"],
        cwd=PROJECT_ROOT,
        env={"PATH": "", "SESSION_DB_PATH": str(path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "No new upgrade operations detected" in result.stdout + result.stderr


def test_upgrading_twice_changes_nothing(upgraded):
    path, _ = upgraded
    once = dump(path)
    upgrade_to_head(create_engine(f"sqlite:///{path}"))
    assert dump(path) == once


@pytest.mark.parametrize("session_id", list(ODD_TIMESTAMPS))
def test_every_legacy_timestamp_form_reads_as_aware_utc_or_none(upgraded, session_id):
    service = SessionService(f"sqlite:///{upgraded[0]}")
    expected = ODD_TIMESTAMPS[session_id][1]
    session = service.get_session(session_id)
    assert (session.created_at, session.last_active) == (expected, expected)
    assert session.message_count == 0  # stored NULL
    assert service.get_chat_history(session_id)[0].timestamp == expected


@pytest.mark.parametrize("session_id", list(ODD_METADATA))
def test_every_legacy_metadata_form_reads_as_a_dict(upgraded, session_id):
    service = SessionService(f"sqlite:///{upgraded[0]}")
    expected = ODD_METADATA[session_id][1]
    assert service.get_session(session_id).metadata == expected
    assert service.get_chat_history(session_id)[0].metadata == expected


def test_rows_written_by_the_legacy_module_read_back_as_written(upgraded):
    service = SessionService(f"sqlite:///{upgraded[0]}")
    session = service.get_session("legacy-web")
    history = service.get_chat_history("legacy-web")
    assert (session.device_fingerprint, session.metadata, session.message_count) == ("fp-web", {"client": "web"}, 3)
    assert [(m.role, m.content, m.metadata) for m in history] == [
        ("system", "You help.", {"source": "legacy"}),
        ("user", "Hello!", {"source": "legacy"}),
        ("assistant", "Hi there", {"source": "legacy"}),
    ]
    assert all(m.timestamp is not None and m.timestamp.tzinfo is not None for m in history)


def test_messages_whose_session_is_gone_are_still_readable(upgraded):
    service = SessionService(f"sqlite:///{upgraded[0]}")
    assert [m.content for m in service.get_chat_history(ORPHAN_SESSION_ID)] == ["my session row is gone"]
    with pytest.raises(SessionNotFound):
        service.get_session(ORPHAN_SESSION_ID)


def test_the_service_appends_to_legacy_sessions(upgraded):
    path, before = upgraded
    service = SessionService(f"sqlite:///{path}")
    legacy_max_id = before["sequence"][0][1]
    new_id = service.save_message("ts-garbage", "user", "appended")
    assert new_id > legacy_max_id  # AUTOINCREMENT: a deleted legacy id is never reused
    assert service.get_session("ts-garbage").message_count == 1  # NULL + 1
    assert [m.content for m in service.get_chat_history("ts-garbage")] == ["odd time", "appended"]
    service.save_message("legacy-web", "user", "more")
    assert service.get_session_stats("legacy-web").messages_by_role == {"system": 1, "user": 2, "assistant": 1}


def test_new_writes_are_text_that_sqlite_and_the_legacy_reader_parse(upgraded):
    path, _ = upgraded
    service = SessionService(f"sqlite:///{path}")
    service.get_or_create_session("new-one", metadata={"k": "v"})
    service.save_message("new-one", "user", "hi")
    import sqlite3

    conn = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)
    created, parsed_by_sqlite, metadata, md_type = conn.execute(
        "SELECT created_at, datetime(created_at), metadata, typeof(metadata) FROM sessions WHERE session_id = 'new-one'"
    ).fetchone()
    message_md = conn.execute("SELECT metadata FROM chat_history WHERE session_id = 'new-one'").fetchone()[0]
    conn.close()
    assert created.tzinfo is None  # the legacy sqlite3 TIMESTAMP converter read it
    assert parsed_by_sqlite is not None
    assert (metadata, md_type) == ('{"k":"v"}', "text")
    assert message_md is None  # None is SQL NULL, not the text 'null'


def test_an_empty_database_gets_exactly_the_legacy_schema(tmp_path):
    path = tmp_path / "empty.db"
    upgrade_to_head(create_engine(f"sqlite:///{path}"))
    legacy = tmp_path / "legacy.db"
    import sqlite3

    sqlite3.connect(legacy).executescript(LEGACY_DDL)
    normalise = lambda rows: [(t, n, " ".join(sql.replace("IF NOT EXISTS ", "").split())) for t, n, sql in rows]
    legacy_schema = dump(legacy)["schema"]
    created, added = split_schema(dump(path)["schema"], {row[1] for row in legacy_schema})
    assert normalise(without_added_column(created)) == normalise(legacy_schema)
    assert added == ADDED_INDEXES | ADDED_TABLES


def test_downgrading_below_the_baseline_refuses_and_keeps_the_data(upgraded):
    path, before = upgraded
    from alembic import command

    with pytest.raises(RuntimeError, match="Refusing to downgrade"):
        command.downgrade(alembic_config(create_engine(f"sqlite:///{path}")), "base")
    after = dump(path)
    assert (after["sessions"], after["chat_history"]) == (before["sessions"], before["chat_history"])


def test_search_finds_legacy_rows_once_adopted(upgraded):
    service = SessionService(f"sqlite:///{upgraded[0]}")
    hits = service.search("there").hits
    assert [(h.session_id, h.message.content, h.snippet) for h in hits] == [
        ("legacy-web", "Hi there", "Hi <mark>there</mark>")
    ]
    # Rows of a session that is gone are found too (an operator's search does not need the session row).
    assert [h.message.content for h in service.search("session row gone").hits] == ["my session row is gone"]
    # Written after the adoption: indexed by the migration's triggers in the same transaction.
    service.save_message("legacy-web", "user", "there again")
    assert [h.message.content for h in service.search("there").hits] == ["there again", "Hi there"]
