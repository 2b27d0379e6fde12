"""What the context window reads: a session's newest messages with their token counts, page by page."""

from __future__ import annotations

import sqlalchemy as sa

from backend.store.records import MessageRecord
from backend.store.repositories import Repository
from backend.store.sql import MESSAGE, Precompiled, by_id, live, messages

# Newest first below `before`: one range of the (session_id, id) index, whatever the history's length.
newest_with_tokens = Precompiled(
    sa.select(*MESSAGE.columns, messages.c.token_count)
    .where(by_id(messages), live, messages.c.id < sa.bindparam("before"))
    .order_by(messages.c.id.desc())
    .limit(sa.bindparam("limit"))
)
set_token_count = messages.update().where(messages.c.id == sa.bindparam("mid")).values(token_count=sa.bindparam("n"))


class ContextRepository(Repository):
    """Reads for the context window, and the token counts of rows written before they were counted."""

    __slots__ = ()

    def newest(self, session_id: str, before: int, limit: int) -> list[tuple[MessageRecord, int | None]]:
        """Up to `limit` messages with an id below `before`, newest first, each with its token count (None for a
        row written before counts were kept)."""
        rows = self.tx.run(newest_with_tokens, {"sid": session_id, "before": before, "limit": limit}).fetchall()
        to_record = MESSAGE.converter(self.tx.dialect)
        width = len(MESSAGE.columns)
        return [(to_record(row[:width]), row[width]) for row in rows]

    def keep_token_counts(self, counts: dict[int, int]) -> None:
        """Store the token count of each message id."""
        if counts:
            self.tx.execute(set_token_count, [{"mid": mid, "n": n} for mid, n in counts.items()])
