"""Idempotency keys through SessionService and IdempotencyKeys, on both databases: one effect per key."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from backend.services.errors import (
    IdempotencyKeyReused,
    InvalidInput,
    RequestInFlight,
    ReservationLost,
    SessionNotFound,
)
from backend.services.idempotency import IdempotencyKeys, key_scope
from backend.services.maintenance import MaintenanceService
from backend.services.session import SessionService
from backend.store.records import NewMessage
from tests.rows import row_counts


def key_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM idempotency_keys").scalar_one()


def append_with(service, role, content, also):
    """A message of session s1 stored with `also(store, message)` in its transaction, as a turn's writes do."""
    with service.uow.write() as store:
        message = store.messages.add(NewMessage("s1", role, content))
        also(store, message)
        return message


def test_a_repeated_append_returns_the_first_message_and_stores_nothing_more(service):
    service.get_or_create_session("s1")
    first = service.add_message("s1", "user", "hello", {"n": 1}, idempotency_key="k-1")
    again = service.add_message("s1", "user", "hello", {"n": 1}, idempotency_key="k-1")
    assert again == first
    assert [m.id for m in service.get_chat_history("s1")] == [first.id]
    assert service.get_session("s1").message_count == 1


def test_the_same_key_with_another_request_is_refused_and_stores_nothing(service):
    service.get_or_create_session("s1")
    service.add_message("s1", "user", "hello", idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        service.add_message("s1", "user", "something else", idempotency_key="k-1")
    assert [m.content for m in service.get_chat_history("s1")] == ["hello"]


def test_keys_are_scoped_per_session_in_none_mode(service):
    for sid in ("a", "b"):
        service.get_or_create_session(sid)
        service.add_message(sid, "user", "same words", idempotency_key="shared-key")
    assert row_counts(service.engine) == (2, 2)
    assert key_scope("a") != key_scope("b") and key_scope("a", owner="o") == key_scope("b", owner="o")


def test_a_request_that_failed_keeps_no_key_so_its_retry_is_processed(service):
    with pytest.raises(SessionNotFound):
        service.add_message("later", "user", "hi", idempotency_key="k-1")
    service.get_or_create_session("later")
    stored = service.add_message("later", "user", "hi", idempotency_key="k-1")
    assert [m.id for m in service.get_chat_history("later")] == [stored.id]


def test_an_invalid_key_is_refused_with_its_field_named(service):
    service.get_or_create_session("s1")
    with pytest.raises(InvalidInput) as raised:
        service.add_message("s1", "user", "hi", idempotency_key="x" * 256)
    assert list(raised.value.errors) == ["idempotency_key"]
    assert row_counts(service.engine) == (1, 0)


def test_a_repeated_create_returns_the_same_generated_session_and_answer(service):
    first, created = service.open_session(metadata={"client": "web"}, idempotency_key="create-1")
    again, created_again = service.open_session(metadata={"client": "web"}, idempotency_key="create-1")
    assert (again, created_again) == (first, True) and created
    assert row_counts(service.engine) == (1, 0)


def test_a_key_past_its_time_starts_a_new_request_and_the_purge_removes_it(database_url):
    service = SessionService(database_url, idempotency_ttl_s=0.05)
    service.get_or_create_session("s1")
    service.add_message("s1", "user", "hi", idempotency_key="k-1")
    time.sleep(0.1)
    service.add_message("s1", "user", "hi", idempotency_key="k-1")
    assert service.get_session("s1").message_count == 2
    assert key_rows(service.engine) == 1
    time.sleep(0.1)
    report = MaintenanceService(database_url).purge_idle_sessions(365)
    assert report.expired_keys == 1 and key_rows(service.engine) == 0


def test_a_retry_storm_of_20_threads_with_one_key_stores_one_message(service):
    service.get_or_create_session("s1")
    start = threading.Barrier(20)

    def send(_):
        start.wait()
        return service.add_message("s1", "user", "tap", idempotency_key="storm")

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(send, range(20)))
    assert all(answer == answers[0] for answer in answers)
    assert [m.id for m in service.get_chat_history("s1")] == [answers[0].id]
    assert service.get_session("s1").message_count == 1


# -- the turn primitives: reserve, record the user message, complete or release -----------------


def test_a_reserved_key_is_in_flight_for_a_second_attempt(service):
    keys = IdempotencyKeys(service.uow)
    keys.reserve("scope", "k", "hash", hold_s=30)
    with pytest.raises(RequestInFlight) as raised:
        keys.reserve("scope", "k", "hash", hold_s=30)
    assert 1 <= raised.value.retry_after_s <= 5


def test_a_released_reservation_is_taken_over_with_its_stored_message(service):
    service.get_or_create_session("s1")
    keys = IdempotencyKeys(service.uow)
    claim = keys.reserve(key_scope("s1"), "k", "hash", hold_s=30)
    message = append_with(service, "user", "hi", lambda tx, m: keys.record_message(tx, claim, m.id))
    keys.release(claim)
    retry = keys.reserve(key_scope("s1"), "k", "hash", hold_s=30)
    assert retry.message_id == message.id and retry.replay is None and retry.token != claim.token


def test_a_reservation_whose_holder_died_lapses_at_its_deadline(service):
    keys = IdempotencyKeys(service.uow)
    keys.reserve("scope", "k", "hash", hold_s=0.2)  # its holder never comes back
    with pytest.raises(RequestInFlight):
        keys.reserve("scope", "k", "hash", hold_s=0.2)
    time.sleep(0.3)
    assert keys.reserve("scope", "k", "hash", hold_s=30).replay is None


def test_a_holder_that_lost_its_reservation_cannot_complete_and_its_write_is_rolled_back(service):
    service.get_or_create_session("s1")
    keys = IdempotencyKeys(service.uow)
    slow = keys.reserve("scope", "k", "hash", hold_s=0.1)
    time.sleep(0.2)
    keys.reserve("scope", "k", "hash", hold_s=30)  # a retry took it over
    with pytest.raises(ReservationLost):
        append_with(service, "assistant", "late", lambda tx, m: keys.complete(tx, slow, 200, {"late": True}))
    assert service.get_chat_history("s1") == []


def test_a_completed_reservation_replays_its_outcome_and_a_different_request_is_refused(service):
    keys = IdempotencyKeys(service.uow)
    claim = keys.reserve("scope", "k", "hash", hold_s=30)
    service.get_or_create_session("s1")
    done = append_with(service, "assistant", "done", lambda tx, m: keys.complete(tx, claim, 200, {"id": m.id}))
    replay = keys.reserve("scope", "k", "hash", hold_s=30).replay
    assert (replay.status, replay.outcome) == (200, {"id": done.id})
    with pytest.raises(IdempotencyKeyReused):
        keys.reserve("scope", "k", "another hash", hold_s=30)


def test_purging_expired_keys_keeps_the_live_ones(service):
    keys = IdempotencyKeys(service.uow, ttl_s=3600)
    keys.reserve("scope", "live", "hash", hold_s=1)
    later = datetime.now(UTC) + timedelta(hours=2)
    maintenance = MaintenanceService(service.engine)
    assert maintenance.purge_expired_keys(datetime.now(UTC)) == 0
    assert maintenance.purge_expired_keys(later) == 1


def _append_once(url, barrier, results):
    barrier.wait()
    try:
        results.put(SessionService(url).add_message("s1", "user", "tap", idempotency_key="storm"))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(repr(exc))


@pytest.mark.slow  # starts 20 processes
def test_a_retry_storm_of_20_processes_with_one_key_stores_one_message(database_url):
    import multiprocessing

    SessionService(database_url).get_or_create_session("s1")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(20), context.Queue()
    workers = [context.Process(target=_append_once, args=(database_url, barrier, results)) for _ in range(20)]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert all(answer == answers[0] for answer in answers), answers
    service = SessionService(database_url)
    assert [m.id for m in service.get_chat_history("s1")] == [answers[0].id]
    assert service.get_session("s1").message_count == 1 and key_rows(service.engine) == 1
