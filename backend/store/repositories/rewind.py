"""A rewind: messages after one taken out of the history, kept stored as superseded, and read on request; and
the oldest messages taken out the same way (a compaction retiring an expired prefix)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from backend.store.records import MessageRecord
from backend.store.repositories import Repository
from backend.store.repositories.messages import MAX_ROW_ID, fitting
from backend.store.sql import MESSAGE, by_id, live, messages, octet_length, sessions

_after = messages.c.id > sa.bindparam("after")
is_live = sa.select(messages.c.id).where(by_id(messages), live, messages.c.id == sa.bindparam("id"))
_through = messages.c.id <= sa.bindparam("through")
supersede = messages.update().where(by_id(messages), live, _after).values(superseded_at=sa.bindparam("now"))
supersede_up_to = messages.update().where(by_id(messages), live, _through).values(superseded_at=sa.bindparam("now"))
count_fewer = (
    sessions.update()
    .where(by_id(sessions))
    .values(message_count=sa.func.coalesce(sessions.c.message_count, 0) - sa.bindparam("n"))
)
# Every message, superseded or not, newest first: sizes for the page's byte budget, then the rows.
_newest_first = messages.c.id.desc()
_below = messages.c.id < sa.bindparam("before")
_size = octet_length(messages.c.content) + sa.func.coalesce(octet_length(sa.cast(messages.c.metadata, sa.Text)), 0)
all_sizes = sa.select(messages.c.id, _size).where(by_id(messages), _below).order_by(_newest_first)
oldest_live_below = (
    MESSAGE.select().where(by_id(messages), live, _below).order_by(messages.c.id).limit(sa.bindparam("limit"))
)
all_rows = (
    sa.select(*MESSAGE.columns, messages.c.superseded_at.is_not(None))
    .where(by_id(messages), _below)
    .order_by(_newest_first)
    .limit(sa.bindparam("limit"))
)


class RewindRepository(Repository):
    """Superseding the messages after one, and reading a history with them."""

    __slots__ = ()

    def is_live(self, session_id: str, message_id: int) -> bool:
        """Whether `message_id` is a message of the session's history (not superseded)."""
        return self.tx.execute(is_live, {"sid": session_id, "id": message_id}).first() is not None

    def supersede_after(self, session_id: str, after_id: int, now: datetime) -> int:
        """Take every live message after `after_id` out of the history (kept, marked superseded at `now`) and
        count the history down by as many; how many."""
        return self._counted_down(session_id, supersede, {"sid": session_id, "after": after_id, "now": now})

    def supersede_through(self, session_id: str, last_id: int, now: datetime) -> int:
        """Take every live message up to and including `last_id` out of the history, as supersede_after does; how
        many."""
        return self._counted_down(session_id, supersede_up_to, {"sid": session_id, "through": last_id, "now": now})

    def _counted_down(self, session_id: str, statement: sa.Update, params: dict) -> int:
        superseded = self.tx.execute(statement, params).rowcount
        if superseded:
            self.tx.execute(count_fewer, {"sid": session_id, "n": superseded})
        return superseded

    def oldest_live(self, session_id: str, before: int, limit: int) -> list[MessageRecord]:
        """The oldest `limit` messages of the history with id < before, oldest first."""
        rows = self.tx.execute(oldest_live_below, {"sid": session_id, "before": before, "limit": limit}).fetchall()
        return [MESSAGE.from_result_row(row) for row in rows]

    def newest_with_superseded(
        self, session_id: str, limit: int, before: int | None, max_bytes: int
    ) -> tuple[list[tuple[MessageRecord, bool]], bool]:
        """As MessageRepository.newest_within over every message, each with whether it is superseded."""
        before = MAX_ROW_ID if before is None or before > MAX_ROW_ID else before
        params = {"sid": session_id, "before": before}
        sizes = self.tx.execute(all_sizes.limit(limit + 1), params).fetchall()
        if not sizes:
            return [], False
        taken = fitting(sizes, limit, max_bytes)
        rows = self.tx.execute(all_rows, {**params, "limit": taken, "before": sizes[0][0] + 1}).fetchall()
        width = len(MESSAGE.columns)
        found = [(MESSAGE.from_result_row(row[:width]), bool(row[width])) for row in reversed(rows)]
        return found, len(sizes) > taken and bool(found)
