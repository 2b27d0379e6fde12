"""Durable acknowledgements: SQLite syncs the WAL on every commit by default; PostgreSQL warns when it would not."""

from __future__ import annotations

import logging
import time

import pytest
import sqlalchemy as sa

from backend.services.errors import StoreUnavailable
from backend.services.session import SessionService
from backend.settings import Config
from backend.store.engines import create_engine
from tests.databases import postgres_url_or_skip

LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def sqlite_level(engine) -> str:
    with engine.connect() as conn:
        return LEVELS[conn.exec_driver_sql("PRAGMA synchronous").scalar_one()]


def test_sqlite_commits_with_synchronous_full_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)
    assert sqlite_level(create_engine(f"sqlite:///{tmp_path}/a.db")) == "FULL"
    assert Config().SQLITE_SYNCHRONOUS == "FULL"


def test_sqlite_synchronous_follows_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "normal")
    assert Config().SQLITE_SYNCHRONOUS == "NORMAL"
    assert sqlite_level(create_engine(f"sqlite:///{tmp_path}/a.db")) == "NORMAL"
    assert sqlite_level(create_engine(f"sqlite:///{tmp_path}/b.db", synchronous="EXTRA")) == "EXTRA"


def test_an_unknown_synchronous_level_is_refused_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "FULL; DROP TABLE sessions")
    with pytest.raises(RuntimeError, match="SQLITE_SYNCHRONOUS must be one of"):
        Config()
    with pytest.raises(ValueError, match="must be one of"):
        create_engine(f"sqlite:///{tmp_path}/a.db", synchronous="sometimes")


def test_postgresql_with_synchronous_commit_off_is_warned_about_once(caplog):
    url = postgres_url_or_skip()
    lax = (
        sa.make_url(url)
        .update_query_dict({"options": "-csynchronous_commit=off"})
        .render_as_string(hide_password=False)
    )
    with caplog.at_level(logging.WARNING, logger="backend.store.engines"):
        engine = create_engine(lax)
        for _ in range(2):
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    warnings = [r for r in caplog.records if "synchronous_commit is off" in r.getMessage()]
    assert len(warnings) == 1


def test_postgresql_with_synchronous_commit_on_is_not_warned_about(caplog):
    engine = create_engine(postgres_url_or_skip())
    with caplog.at_level(logging.WARNING, logger="backend.store.engines"):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() != "off"
        engine.dispose()
    assert not [r for r in caplog.records if "synchronous_commit" in r.getMessage()]


def test_gunicorn_warns_at_start_when_postgresql_commits_are_not_durable(tmp_path):
    from tests.servers import Server

    url = postgres_url_or_skip()
    lax = (
        sa.make_url(url)
        .update_query_dict({"options": "-csynchronous_commit=off"})
        .render_as_string(hide_password=False)
    )
    server = Server(lax, tmp_path / "gunicorn.log", workers=1)
    try:
        server.start(timeout_s=60)
        assert "synchronous_commit is off" in server.log_text()
    finally:
        server.stop()


def test_a_request_that_finds_every_pooled_connection_busy_waits_then_is_told_to_retry(postgres_schema):
    postgres_schema.empty()
    engine = create_engine(postgres_schema.url, pool_size=1, pool_timeout_s=0.5)
    service = SessionService(engine)
    sid = service.get_or_create_session().session_id
    held = engine.connect()  # the pool's only connection, in use elsewhere
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="busy; retry shortly"):
            service.get_session(sid)
        assert 0.5 <= time.monotonic() - started < 5
        held.close()
        assert service.get_session(sid).session_id == sid  # free again: served at once
    finally:
        held.close()
        engine.dispose()
