"""What both adapters share: the process's default service, reading the last N readable messages of a session
page by page (a page is at most Limits.max_page), and writing a call's messages as one batch."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from backend.services.async_session import AsyncSessionService
from backend.services.errors import SessionNotFound
from backend.services.session import SessionService
from backend.settings import Limits
from backend.store.records import MessageRecord

log = logging.getLogger(__name__)
T = TypeVar("T")

_default: dict[int, SessionService] = {}
_default_lock = threading.Lock()


def default_service() -> SessionService:
    """The one SessionService of this process for adapters built without one (from the environment's settings,
    with the agents' limits, Limits.for_agents): a service per adapter would open a pool and worker threads per
    conversation."""
    with _default_lock:
        service = _default.get(os.getpid())  # after a fork, the child builds its own
        if service is None:
            service = _default[os.getpid()] = SessionService(limits=Limits.for_agents())
        return service


def last_messages(service: SessionService, session_id: str, limit: int | None) -> list[MessageRecord]:
    """The newest `limit` messages (all when None), oldest first; [] for a session that does not exist yet."""
    pages: list[list[MessageRecord]] = []
    before, wanted = None, limit
    try:
        while wanted is None or wanted > 0:
            size = service.limits.max_page if wanted is None else min(wanted, service.limits.max_page)
            page = service.get_history_page(session_id, limit=size, before=before)
            pages.append(page.messages)
            wanted = None if wanted is None else wanted - len(page.messages)
            if page.next_before is None:
                break
            before = page.next_before
    except SessionNotFound:
        return []
    return [message for page in reversed(pages) for message in page]


def readable(records: list[MessageRecord], convert: Callable[[MessageRecord], T]) -> tuple[list[T], int]:
    """Each record converted, oldest first, and how many could not be: each of those is skipped with one
    warning naming its id (one unreadable row never fails the whole read, as in the frameworks' own stores)."""
    converted: list[T] = []
    for record in records:
        try:
            converted.append(convert(record))
        except Exception as error:  # noqa: BLE001 - whatever the framework raises for a row it cannot read
            log.warning("skipping stored message %s of session %s: %s", record.id, record.session_id, error)
    return converted, len(records) - len(converted)


def last_readable(
    service: SessionService, session_id: str, limit: int | None, convert: Callable[[MessageRecord], T]
) -> list[T]:
    """The newest `limit` messages that `convert` can read (all when None), oldest first; unreadable ones are
    skipped with a warning, and the window grows past them so that `limit` counts readable messages."""
    window = limit
    while True:
        records = last_messages(service, session_id, window)
        converted, skipped = readable(records, convert)
        if window is None or not skipped or len(records) < window:
            return converted[-limit:] if limit else converted
        window += skipped


async def alast_readable(
    service: AsyncSessionService, session_id: str, limit: int | None, convert: Callable[[MessageRecord], T]
) -> list[T]:
    """last_readable, awaited: the whole paging runs in one worker thread."""
    return await service.run_sync(last_readable, session_id, limit, convert)


async def to_its_outcome(write: Awaitable[T]) -> T:
    """Await a write until it has landed or failed, even when the caller is cancelled meanwhile (the
    cancellation is raised after): a cancelled call never returns while its write still lands behind it."""
    task = asyncio.ensure_future(write)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError as error:
            cancelled = cancelled or error
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # its outcome is known; the caller asked to be cancelled
        raise cancelled
    return task.result()


def append_batch(service: SessionService, session_id: str, stored: list[tuple[str, str, dict]]) -> None:
    """Append a framework call's (role, content, metadata) messages as one batch: all or none, nothing of another
    writer between them. A call of more than MAX_BATCH_MESSAGES is written as consecutive batches of that size."""
    size = service.limits.max_batch_messages
    for start in range(0, len(stored), size):
        batch = stored[start : start + size]
        service.save_messages(session_id, [{"role": r, "content": c, "metadata": m} for r, c, m in batch])
