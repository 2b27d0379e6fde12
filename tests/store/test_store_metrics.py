"""The store's metrics: each transaction timed by kind, and SQLite writers' waits for the write lock counted."""

import sqlite3
import threading

from prometheus_client import REGISTRY

from backend.services.session import SessionService


def _count(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_transaction_is_timed_under_its_kind(database_url):
    service = SessionService(database_url)
    writes = _count("session_store_db_transaction_duration_seconds_count", kind="write")
    reads = _count("session_store_db_transaction_duration_seconds_count", kind="read")
    service.get_or_create_session("m1")  # one write
    service.save_message("m1", "user", "hi")  # one write
    service.get_chat_history("m1")  # one read
    assert _count("session_store_db_transaction_duration_seconds_count", kind="write") - writes == 2
    assert _count("session_store_db_transaction_duration_seconds_count", kind="read") - reads == 1


def test_a_writer_that_waits_for_sqlites_write_lock_is_counted_as_a_busy_wait(tmp_path, sqlite_template):
    url = sqlite_template.copy_to(tmp_path / "busy.db")
    service = SessionService(url)
    service.get_or_create_session("b1")
    waits = _count("session_store_sqlite_busy_waits_total")
    waited = _count("session_store_sqlite_busy_wait_seconds_total")
    locked, release = threading.Event(), threading.Event()

    def hold():
        holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    threading.Timer(0.3, release.set).start()
    service.save_message("b1", "user", "waited")
    thread.join(10)
    service.save_message("b1", "user", "did not wait")
    assert _count("session_store_sqlite_busy_waits_total") - waits == 1
    assert _count("session_store_sqlite_busy_wait_seconds_total") - waited >= 0.2
