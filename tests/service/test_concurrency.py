"""Several processes writing at once: nobody fails, no count is lost, one row per id."""

import multiprocessing

import pytest
import sqlalchemy as sa

from backend.services.session import SessionService

pytestmark = pytest.mark.slow  # starts processes

PROCESSES = 8
APPENDS_EACH = 60


def _append_many(url, session_id, worker, start_barrier, results):
    service = SessionService(url)
    start_barrier.wait()
    failures = 0
    for i in range(APPENDS_EACH):
        try:
            service.save_message(session_id, "user", f"worker {worker} message {i}")
        except Exception as exc:  # counted, and the test shows the first one
            failures += 1
            results.put(("error", repr(exc)))
    results.put(("done", failures))


def _create_same(url, session_id, start_barrier, results):
    service = SessionService(url)
    start_barrier.wait()
    try:
        _, created = service.open_session(session_id, metadata={"by": "racer"})
        results.put(("done", created))
    except Exception as exc:
        results.put(("error", repr(exc)))


def _merge_own_keys(url, session_id, worker, start_barrier, results):
    service = SessionService(url)
    start_barrier.wait()
    errors = []
    for i in range(APPENDS_EACH // 4):
        try:
            service.update_session(session_id, metadata={f"w{worker}-{i}": i})
        except Exception as exc:
            errors.append(repr(exc))
    for error in errors:
        results.put(("error", error))
    results.put(("done", len(errors)))


def _run(target, args_for):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=target, args=(*args_for(i), barrier, results)) for i in range(PROCESSES)]
    for p in processes:
        p.start()
    outcomes = []
    while len([o for o in outcomes if o[0] == "done"]) < PROCESSES:
        outcomes.append(results.get(timeout=120))
    for p in processes:
        p.join(timeout=30)
    return outcomes


def test_eight_processes_appending_to_one_session_lose_nothing(database_url, service, engine):
    service.get_or_create_session("shared")
    outcomes = _run(_append_many, lambda i: (database_url, "shared", i))
    errors = [o[1] for o in outcomes if o[0] == "error"]
    assert errors == []
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM chat_history WHERE session_id = 'shared'")).scalar()
    assert rows == PROCESSES * APPENDS_EACH
    assert service.get_session("shared").message_count == rows
    history = service.get_chat_history("shared", limit=rows)
    assert [m.id for m in history] == sorted(m.id for m in history)


def test_processes_racing_to_create_one_id_all_succeed_and_one_row_exists(database_url, engine):
    outcomes = _run(_create_same, lambda i: (database_url, "contested"))
    assert [o for o in outcomes if o[0] == "error"] == []
    assert sorted(o[1] for o in outcomes) == [False] * (PROCESSES - 1) + [True]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sessions WHERE session_id = 'contested'")).scalar() == 1


def test_processes_merging_metadata_at_once_lose_no_key(database_url, service):
    # Read-then-write: a deferred SQLite transaction here fails at once with "database is locked".
    service.get_or_create_session("merged")
    outcomes = _run(_merge_own_keys, lambda i: (database_url, "merged", i))
    assert [o[1] for o in outcomes if o[0] == "error"] == []
    expected = {f"w{w}-{i}": i for w in range(PROCESSES) for i in range(APPENDS_EACH // 4)}
    assert service.get_session("merged").metadata == expected
