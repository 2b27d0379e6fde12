"""Reading the last N messages of a session through the services, page by page (a page is at most Limits.max_page),
and writing a call's messages as one batch."""

from __future__ import annotations

from backend.services.async_session import AsyncSessionService
from backend.services.errors import SessionNotFound
from backend.services.session import SessionService
from backend.store.records import MessageRecord


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


async def alast_messages(service: AsyncSessionService, session_id: str, limit: int | None) -> list[MessageRecord]:
    """last_messages, awaited: the whole paging runs in one worker thread."""
    return await service.run_sync(last_messages, session_id, limit)


def append_batch(service: SessionService, session_id: str, stored: list[tuple[str, str, dict]]) -> None:
    """Append a framework call's (role, content, metadata) messages as one batch: all or none, nothing of another
    writer between them. A call of more than MAX_BATCH_MESSAGES is written as consecutive batches of that size."""
    size = service.limits.max_batch_messages
    for start in range(0, len(stored), size):
        batch = stored[start : start + size]
        service.save_messages(session_id, [{"role": r, "content": c, "metadata": m} for r, c, m in batch])
