"""AsyncSessionService: SessionService for asyncio programs; each call runs the sync service in a worker thread.

The rules, statements and errors are SessionService's own (this class has none of its own), so the
two cannot drift apart. Measured against SQLAlchemy's asyncio drivers (docs/performance.md, "Async
API"): offloading served 1.3-8x the calls/s of the asyncio drivers, with less loop lag on
PostgreSQL (more on SQLite), and it runs the very same code, precompiled hot paths included.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from backend.services.session import SessionService
from backend.settings import Limits

# Every public method of SessionService, awaitable here with the same arguments and results.
# (turn_events, an iterator, is an async iterator here instead.)
METHODS = tuple(
    name
    for name, member in inspect.getmembers(SessionService, inspect.isfunction)
    if not name.startswith("_") and name != "turn_events"
)

# Two threads: the database does the waiting, and each thread competes with the event loop for
# the GIL while it runs Python. Measured (docs/performance.md): 4 or 8 threads gave up to 1.2x the
# calls/s and about twice the loop lag.
DEFAULT_THREADS = 2


class AsyncSessionService:
    """The same methods, records and errors as SessionService, awaitable; the event loop never waits on the database."""

    def __init__(
        self,
        url_or_engine: str | sa.Engine | None = None,
        *,
        limits: Limits | None = None,
        threads: int = DEFAULT_THREADS,
        service: SessionService | None = None,
    ):
        self.sync = service if service is not None else SessionService(url_or_engine, limits=limits)
        self.engine = self.sync.engine
        self.limits = self.sync.limits
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="session-store")

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = functools.partial(getattr(self.sync, name), *args, **kwargs)
        # The caller's context goes along (backend.context.request_id, for the logs), as asyncio.to_thread does.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._executor, context.run, method)

    async def run_sync(self, function, *args: Any) -> Any:
        """`function(sync_service, *args)` in a worker thread: for helpers made of several sync calls."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, function, self.sync, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def turn_events(self, session_id: str, turn_id: str, after: int | None = None, *, owner: str | None = None):
        """As SessionService.turn_events, an async iterator: each event is waited for in a worker thread."""
        events = await self._call("turn_events", session_id, turn_id, after, owner=owner)
        loop, end = asyncio.get_running_loop(), object()
        # The default executor: a follower waits for the whole turn, and must not hold one of the service's threads.
        while (event := await loop.run_in_executor(None, next, events, end)) is not end:
            yield event

    def close(self) -> None:
        """Stop the worker threads (calls already running finish first)."""
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> AsyncSessionService:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)


def _awaitable(name: str):
    sync_method = getattr(SessionService, name)

    @functools.wraps(sync_method)
    async def method(self: AsyncSessionService, *args: Any, **kwargs: Any) -> Any:
        return await self._call(name, *args, **kwargs)

    return method


for _name in METHODS:
    setattr(AsyncSessionService, _name, _awaitable(_name))


_twin_lock = threading.Lock()


def async_service_for(service: SessionService) -> AsyncSessionService:
    """One AsyncSessionService (one set of threads) per sync service, for adapters built per session. It is kept
    on the service itself, so both go together: a cache keyed weakly by the service held them forever (its
    value holds the key), with their threads (177 threads after 100 short-lived sessions)."""
    with _twin_lock:
        twin = service.__dict__.get("_async_twin")
        if twin is None:
            twin = service.__dict__["_async_twin"] = AsyncSessionService(service=service)
        return twin
