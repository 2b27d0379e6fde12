"""Online backup of SQLite while another process writes: the copy holds every acknowledged message."""

import multiprocessing
import sqlite3

import pytest

from backend.services.errors import InvalidInput
from backend.services.maintenance import MaintenanceService
from backend.services.session import SessionService


def _write_until_stopped(url, stop, acknowledged):
    service = SessionService(url)
    while not stop.is_set():
        acknowledged.put(service.save_message("busy", "user", "written during the backup"))


def test_backup_during_writes_holds_every_message_acknowledged_before_it(tmp_path, sqlite_template):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    service = SessionService(url)
    service.get_or_create_session("busy")
    before = [service.save_message("busy", "user", f"before {i}") for i in range(200)]
    context = multiprocessing.get_context("spawn")
    stop, acknowledged = context.Event(), context.Queue()
    writer = context.Process(target=_write_until_stopped, args=(url, stop, acknowledged))
    writer.start()
    try:
        first_concurrent = acknowledged.get(timeout=60)  # the writer is running
        counts = MaintenanceService(url).backup_sqlite(tmp_path / "backup.db")
    finally:
        stop.set()
        writer.join(timeout=60)
    restored = sqlite3.connect(tmp_path / "backup.db")
    ids = {row[0] for row in restored.execute("SELECT id FROM chat_history")}
    stored_count = restored.execute("SELECT message_count FROM sessions WHERE session_id = 'busy'").fetchone()[0]
    integrity = restored.execute("PRAGMA integrity_check").fetchone()[0]
    restored.close()
    assert set(before) | {first_concurrent} <= ids
    assert stored_count == len(ids) == counts["chat_history"]
    assert integrity == "ok"
    restored_service = SessionService(f"sqlite:///{tmp_path / 'backup.db'}")
    assert [m.id for m in restored_service.get_chat_history("busy", limit=len(ids))] == sorted(ids)


def test_backup_refuses_to_overwrite_a_file(tmp_path, sqlite_template):
    url = sqlite_template.copy_to(tmp_path / "live.db")
    (tmp_path / "exists.db").write_text("keep me")
    with pytest.raises(InvalidInput):
        MaintenanceService(url).backup_sqlite(tmp_path / "exists.db")
    assert (tmp_path / "exists.db").read_text() == "keep me"
