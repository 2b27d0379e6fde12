"""The disk-full mark readiness reads: where each database keeps it, and that any process sets and clears it."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

from backend.store.disk_full import DiskFullMark, mark_path


def test_a_sqlite_file_keeps_its_mark_beside_it_and_postgres_in_the_servers_metrics_directory(monkeypatch, tmp_path):
    assert mark_path(sa.make_url(f"sqlite:///{tmp_path}/sessions.db")) == tmp_path / "sessions.db.disk-full"
    assert mark_path(sa.make_url("sqlite://")) is None and mark_path(sa.make_url("sqlite:///:memory:")) is None
    postgres = sa.make_url("postgresql+psycopg://app:s3cret@db.example/sessions")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert mark_path(postgres) is None  # outside gunicorn: this process only
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    path = mark_path(postgres)
    assert path.parent == tmp_path and path.name.startswith("postgresql-") and path.name.endswith(".disk-full")
    assert mark_path(postgres.set(password="other")) == path  # named by the database, never by its password
    assert mark_path(postgres.set(database="another")) != path


def test_a_mark_set_by_one_process_is_seen_and_cleared_by_another(tmp_path):
    path = tmp_path / "sessions.db.disk-full"
    worker_a, worker_b = DiskFullMark(path), DiskFullMark(path)  # as two processes hold them
    assert not worker_a.is_set() and not worker_b.is_set()
    worker_a.set()
    assert path.exists() and worker_b.is_set()
    worker_b.clear()
    assert not path.exists() and not worker_a.is_set()
    worker_b.clear()  # nothing to clear: no error


def test_a_mark_that_cannot_be_made_is_kept_in_the_process_and_said_once(tmp_path, caplog):
    mark = DiskFullMark(tmp_path / "no-such-directory" / "sessions.db.disk-full")
    caplog.set_level(logging.WARNING)
    mark.set()
    mark.set()
    assert mark.is_set() and not Path(mark.path).exists()
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [f"the disk-full mark {mark.path} cannot be made"]
    mark.clear()
    assert not mark.is_set()
