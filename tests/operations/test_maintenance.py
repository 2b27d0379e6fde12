"""Purging idle sessions: only the idle ones go, with their messages; a dry run deletes nothing."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.services.errors import InvalidInput
from backend.services.maintenance import MaintenanceService
from tests.factories import ChatMessageFactory, SessionFactory

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions_of_every_age(db):
    for days in (0, 5, 29, 31, 400):
        session = SessionFactory(session_id=f"idle-{days}d", last_active=NOW - timedelta(days=days))
        ChatMessageFactory.create_batch(2, session=session)
    SessionFactory(session_id="never-active", last_active=None)


def remaining_ids(engine):
    with engine.connect() as conn:
        return sorted(conn.exec_driver_sql("SELECT session_id FROM sessions").scalars())


def test_purge_deletes_only_sessions_idle_longer_than_the_limit(engine, sessions_of_every_age):
    report = MaintenanceService(engine).purge_idle_sessions(30, now=NOW)
    assert (report.sessions, report.messages, report.dry_run) == (2, 4, False)
    assert remaining_ids(engine) == ["idle-0d", "idle-29d", "idle-5d", "never-active"]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM chat_history").scalar() == 6


def test_a_dry_run_reports_the_same_and_deletes_nothing(engine, sessions_of_every_age):
    report = MaintenanceService(engine).purge_idle_sessions(30, dry_run=True, now=NOW)
    assert (report.sessions, report.messages, report.dry_run) == (2, 4, True)
    assert len(remaining_ids(engine)) == 6


def test_purge_works_in_batches_larger_than_one(engine, db, monkeypatch):
    monkeypatch.setattr("backend.services.maintenance.PURGE_BATCH", 3)
    for _ in range(10):
        SessionFactory(last_active=NOW - timedelta(days=90))
    assert MaintenanceService(engine).purge_idle_sessions(30, now=NOW).sessions == 10
    assert remaining_ids(engine) == []


@pytest.mark.parametrize("bad", [-1, "30", None, True])
def test_a_bad_idle_days_is_refused(engine, bad):
    with pytest.raises(InvalidInput):
        MaintenanceService(engine).purge_idle_sessions(bad)


def test_legacy_epoch_and_text_times_are_compared_as_times(tmp_path, sqlite_template):
    url = sqlite_template.copy_to(tmp_path / "legacy-times.db")
    engine = sa.create_engine(url)
    recent, old = NOW - timedelta(days=1), NOW - timedelta(days=100)
    rows = [
        ("epoch-recent", recent.timestamp()),
        ("epoch-old", int(old.timestamp())),
        ("text-recent", recent.strftime("%Y-%m-%d %H:%M:%S")),
        ("text-old", old.strftime("%Y-%m-%d %H:%M:%S")),
        ("garbage", "not a date"),
    ]
    with engine.begin() as conn:
        for session_id, value in rows:
            conn.exec_driver_sql("INSERT INTO sessions (session_id, last_active) VALUES (?, ?)", (session_id, value))
    report = MaintenanceService(url).purge_idle_sessions(30, now=NOW)
    assert report.sessions == 2
    assert remaining_ids(engine) == ["epoch-recent", "garbage", "text-recent"]
