"""Reading the last N messages of a session through the services, page by page (a page is at most Limits.max_page)."""

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
