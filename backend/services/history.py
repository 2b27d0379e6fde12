"""History pages: the newest messages before a point, bounded by count and by bytes."""

from __future__ import annotations

import sqlalchemy as sa

from backend.services.errors import SessionNotFound
from backend.settings import Limits
from backend.store import statements as st
from backend.store.records import HistoryPage, MessageRecord
from backend.store.transaction import transaction

# Ids are 64-bit on both databases: a bound past the largest excludes nothing, and the driver
# cannot even bind it (OverflowError on SQLite, out of range on PostgreSQL).
MAX_ROW_ID = 2**63 - 1


def _bound(before: int | None) -> int | None:
    return before if before is None or before <= MAX_ROW_ID else None


def oldest_first(rows: list, dialect: sa.Dialect) -> list[MessageRecord]:
    """Records of message rows read newest first, oldest first."""
    to_record = st.MESSAGE.converter(dialect)
    return [to_record(row) for row in reversed(rows)]


def _fitting(sizes: list, limit: int, budget: int) -> int:
    """How many of the newest messages (sizes newest first) fit `budget` bytes: at least one, at most `limit`."""
    total = 0
    for taken, (_, size) in enumerate(sizes[:limit]):
        total += size or 0
        if taken and total > budget:
            return taken
    return min(len(sizes), limit)


def history_page(
    engine: sa.Engine, limits: Limits, session_id: str, limit: int, before: int | None, owner: str | None
) -> HistoryPage:
    """The newest `limit` messages before `before` that fit limits.max_page_bytes, oldest first.

    The cut is decided on the sizes of the messages alone, so a page never loads more than its
    budget plus one message, whatever the messages hold.
    """
    before = _bound(before)
    params = {"sid": session_id, "limit": limit + 1, "before": before, "scope": owner}
    with transaction(engine, write=False) as tx:
        if owner is not None and tx.run(st.session_owned, params).fetchone() is None:
            raise SessionNotFound(session_id)
        sizes = tx.run(st.newest_sizes if before is None else st.newest_sizes_before, params).fetchall()
        if not sizes:
            if owner is None and tx.run(st.session_exists, params).fetchone() is None:
                raise SessionNotFound(session_id)
            return HistoryPage(session_id, [], None)
        taken = _fitting(sizes, limit, limits.max_page_bytes)
        # Bounded by the newest id seen: a message appended meanwhile waits for the next read
        # (PostgreSQL's READ COMMITTED lets each statement see new commits).
        rows = tx.run(st.newest_messages_before, {**params, "limit": taken, "before": sizes[0][0] + 1}).fetchall()
    messages = oldest_first(rows, engine.dialect)
    more = len(sizes) > taken and bool(messages)
    return HistoryPage(session_id, messages, messages[0].id if more else None)


def recent_messages(engine: sa.Engine, session_id: str, limit: int, before: int | None, owner: str | None) -> list:
    """The newest `limit` messages before `before`, oldest first (no byte budget: the agent's context)."""
    params = {"sid": session_id, "limit": limit, "before": _bound(before), "scope": owner}
    statement = st.newest_messages if params["before"] is None else st.newest_messages_before
    with transaction(engine, write=False) as tx:
        if owner is not None and tx.run(st.session_owned, params).fetchone() is None:
            raise SessionNotFound(session_id)
        rows = tx.run(statement, params).fetchall()
        if not rows and owner is None and tx.run(st.session_exists, params).fetchone() is None:
            raise SessionNotFound(session_id)
    return oldest_first(rows, engine.dialect)
