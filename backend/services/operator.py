"""What operators do across sessions: search every message, export and erase an owner's data."""

from __future__ import annotations

from backend.services import search as search_service
from backend.settings import Limits
from backend.store.unit_of_work import UnitOfWork


class OperatorService:
    """Search, export and erase, over the service's unit of work (a part of SessionService)."""

    uow: UnitOfWork
    limits: Limits

    def search(
        self,
        q: str,
        *,
        owner: str | None = None,
        session_id: str | None = None,
        role: str | None = None,
        limit: int = search_service.DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> search_service.SearchPage:
        """Live messages whose content matches `q` (words, "phrases", -excluded, OR), newest first, keyset-paged;
        only in `owner`'s sessions when given. Each hit has a snippet: HTML, the text escaped, matches in <mark>."""
        return search_service.search(
            self.uow, self.limits, q, owner=owner, session_id=session_id, role=role, limit=limit, cursor=cursor
        )
