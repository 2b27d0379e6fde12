"""What operators do across sessions: search every message, export and erase an owner's data."""

from __future__ import annotations

from collections.abc import Iterator

from backend.services import owner_data
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

    def export_owner(self, owner: str, *, actor: str = "python") -> Iterator[dict]:
        """Everything stored of `owner`, as JSON-ready records (one NDJSON line each): an `export` header, each
        session followed by its messages (superseded ones marked), summaries and turns, then an `end` record with
        the counts. Read in short transactions as it is consumed; `actor` names who asked, in the audit line."""
        return owner_data.export_owner(self.uow, self.limits, owner, actor=actor)

    def erase_owner(self, owner: str, *, actor: str = "python") -> owner_data.ErasedCounts:
        """Delete every session of `owner` with its messages, turns and their events, summaries, leases and
        idempotency keys, a batch of sessions per transaction, and scrub a SQLite file of them; the counts.
        Repeating it erases nothing more and answers zeros. `actor` names who asked, in the audit line."""
        return owner_data.erase_owner(self.uow, self.limits, owner, actor=actor)
