"""AsyncSessionService: SessionService's methods, records and errors, awaited without blocking the loop."""

import asyncio
import inspect
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from backend.context import request_id
from backend.services.async_session import AsyncSessionService
from backend.services.errors import InvalidInput, SessionNotFound
from backend.services.session import SessionService


def test_every_public_method_of_the_sync_service_is_awaitable_with_the_same_signature():
    public = {n for n, m in inspect.getmembers(SessionService, inspect.isfunction) if not n.startswith("_")}
    assert {"add_message", "get_chat_history", "pop_last_message", "list_sessions"} <= public
    for name in public:
        method = getattr(AsyncSessionService, name)
        # An iterator of the sync service (a turn's events) is an async iterator here.
        awaitable = inspect.isasyncgenfunction if name == "turn_events" else inspect.iscoroutinefunction
        assert awaitable(method), name
        expected = inspect.signature(getattr(SessionService, name))
        if name == "turn_events":
            expected = expected.replace(return_annotation=inspect.Signature.empty)
        assert inspect.signature(method) == expected, name


def test_async_calls_return_what_the_sync_service_reads_back(database_url):
    sync = SessionService(database_url)

    async def conversation():
        async with AsyncSessionService(database_url) as service:
            session = await service.get_or_create_session("a1", metadata={"client": "async"})
            message = await service.add_message("a1", "user", "hello", {"k": 1})
            await service.save_message("a1", "assistant", "hi")
            history = await service.get_chat_history("a1", limit=10)
            stats = await service.get_session_stats("a1")
            popped = await service.pop_last_message("a1")
            return session, message, history, stats, popped

    session, message, history, stats, popped = asyncio.run(conversation())
    assert session.metadata == {"client": "async"}
    assert history[0] == message and [m.content for m in history] == ["hello", "hi"]
    assert stats.messages_by_role == {"user": 1, "assistant": 1}
    assert popped == history[1]
    assert sync.get_chat_history("a1") == [message]
    assert sync.get_session("a1").message_count == 1


def test_async_calls_raise_the_sync_services_errors(database_url):
    async def failing():
        async with AsyncSessionService(database_url) as service:
            with pytest.raises(SessionNotFound):
                await service.get_session("missing")
            with pytest.raises(InvalidInput) as invalid:
                await service.save_message("x", "wizard", "")
            return invalid.value.errors

    errors = asyncio.run(failing())
    assert set(errors) == {"role", "content"}


def test_the_callers_context_reaches_the_worker_thread(database_url):
    seen = {}

    class Recording(SessionService):
        def get_session(self, session_id):
            seen["request_id"] = request_id.get()
            return super().get_session(session_id)

    async def call():
        request_id.set("req-42")
        service = AsyncSessionService(service=Recording(database_url))
        await service.get_or_create_session("c1")
        await service.get_session("c1")
        service.close()

    asyncio.run(call())
    assert seen["request_id"] == "req-42"


def _hold_write_lock(database_url, locked, release):
    """Hold what an append needs (SQLite's write lock, or the session's row on PostgreSQL) until released."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            raw = sqlite3.connect(engine.url.database, isolation_level=None)
            raw.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(30)
            raw.execute("ROLLBACK")
            raw.close()
        else:
            with conn.begin():
                conn.execute(sa.text("SELECT 1 FROM sessions WHERE session_id = 'held' FOR UPDATE"))
                locked.set()
                release.wait(30)
    engine.dispose()


def test_the_event_loop_keeps_running_while_an_append_waits_for_a_lock(database_url):
    SessionService(database_url).get_or_create_session("held")
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(database_url, locked, release))
    holder.start()
    assert locked.wait(10)

    async def scenario():
        async with AsyncSessionService(database_url) as service:
            append = asyncio.create_task(service.save_message("held", "user", "waits for the lock"))
            ticks, deadline = 0, time.monotonic() + 0.5
            while time.monotonic() < deadline:
                await asyncio.sleep(0.001)
                ticks += 1
            waiting = not append.done()
            release.set()
            message_id = await append
            return ticks, waiting, message_id

    try:
        ticks, waiting, message_id = asyncio.run(scenario())
    finally:
        release.set()
        holder.join(30)
    assert waiting  # the append really was blocked on the database...
    assert ticks > 50  # ...while the loop went on turning (a blocked loop would tick once)
    assert [m.id for m in SessionService(database_url).get_chat_history("held")] == [message_id]


def test_500_concurrent_coroutines_append_and_read_without_losing_a_count(database_url):
    sync = SessionService(database_url)
    ids = [f"c{i:03d}" for i in range(500)]
    for sid in ids[:50]:
        sync.get_or_create_session(sid)

    async def crowd():
        async with AsyncSessionService(database_url) as service:

            async def one(sid):
                await service.save_message(sid, "user", "one")
                await service.save_message(sid, "assistant", "two")
                return await service.get_chat_history(sid)

            return await asyncio.gather(*(one(ids[i % 50]) for i in range(500)))

    histories = asyncio.run(crowd())
    assert len(histories) == 500
    assert all(sync.get_session(sid).message_count == 20 for sid in ids[:50])
    assert all(len(sync.get_chat_history(sid, limit=100)) == 20 for sid in ids[:50])
