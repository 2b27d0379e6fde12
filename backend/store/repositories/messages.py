"""Messages: append (counted on the session in the same write), read newest first, clear, pop."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from backend.models.types import stored_metadata, stored_timestamp
from backend.store.records import MessageRecord, NewMessage, SessionRecord
from backend.store.repositories import Repository
from backend.store.repositories.appends import (
    STORED,
    count_and_insert_message,
    count_and_read_session,
    count_insert_and_read_session,
    increment_count,
    increment_count_by,
    insert_message,
)
from backend.store.repositories.dependents import delete_dependents
from backend.store.sql import (
    MESSAGE,
    SESSION,
    Precompiled,
    by_id,
    live,
    messages,
    octet_length,
    owned_by,
    sessions,
)

# Ids are 64-bit on both databases: a bound past the largest excludes nothing, and the driver
# cannot even bind it (OverflowError on SQLite, out of range on PostgreSQL).
MAX_ROW_ID = 2**63 - 1

# -- reads, newest first ---------------------------------------------------------------------------
_history = MESSAGE.select().where(by_id(messages), live)
_before = messages.c.id < sa.bindparam("before")
_newest_first = messages.c.id.desc()
_limit = sa.bindparam("limit")
newest_messages = Precompiled(_history.order_by(_newest_first).limit(_limit))
newest_messages_before = Precompiled(_history.where(_before).order_by(_newest_first).limit(_limit))
# The byte budget of a page is decided on sizes alone, before any content is loaded.
_sizes = sa.select(
    messages.c.id,
    octet_length(messages.c.content) + sa.func.coalesce(octet_length(sa.cast(messages.c.metadata, sa.Text)), 0),
).where(by_id(messages), live)
newest_sizes = Precompiled(_sizes.order_by(_newest_first).limit(_limit))
newest_sizes_before = Precompiled(_sizes.where(_before).order_by(_newest_first).limit(_limit))
select_message = MESSAGE.select().where(messages.c.id == sa.bindparam("id")).where(by_id(messages))
latest_assistant_id = (
    sa.select(messages.c.id)
    .where(by_id(messages), live, messages.c.role == "assistant")
    .order_by(_newest_first)
    .limit(1)
)
rewrite_message = (
    messages.update()
    .where(messages.c.id == sa.bindparam("mid"))
    .values(
        content=sa.bindparam("text"),
        metadata=sa.bindparam("meta", type_=messages.c.metadata.type),
        token_count=sa.bindparam("tokens"),
    )
)
newest_message = MESSAGE.select().where(by_id(messages), live).order_by(_newest_first).limit(1)

# -- clear and pop ---------------------------------------------------------------------------------
reset_count = {
    owned: sessions.update().where(owned_by(sessions) if owned else by_id(sessions)).values(message_count=0)
    for owned in (False, True)
}
delete_messages = messages.delete().where(by_id(messages))
delete_message = messages.delete().where(messages.c.id == sa.bindparam("id"))
decrement_count = (
    sessions.update()
    .where(by_id(sessions))
    .values(message_count=sa.case((sessions.c.message_count > 0, sessions.c.message_count - 1), else_=0))
)


def _bound(before: int | None) -> int | None:
    return before if before is None or before <= MAX_ROW_ID else None


def fitting(sizes: list, limit: int, budget: int) -> int:
    """How many of the newest messages (sizes newest first) fit `budget` bytes: at least one, at most `limit`."""
    total = 0
    for taken, (_, size) in enumerate(sizes[:limit]):
        total += size or 0
        if taken and total > budget:
            return taken
    return min(len(sizes), limit)


class MessageRepository(Repository):
    """The chat_history table, and each session's message_count kept equal to its rows."""

    __slots__ = ()

    def _stored(self, new: NewMessage) -> dict:
        # The whole value, in stored form: a field added to NewMessage and its column needs nothing here.
        values = {column.key: getattr(new, column.key, None) for column in STORED}
        values["timestamp"] = stored_timestamp(datetime.now(UTC), self.tx.dialect.name)
        values["metadata"] = stored_metadata(new.metadata)
        values["token_count"] = self.tx.count_tokens(new.content) if self.tx.count_tokens else None
        return values

    def _record(self, values: dict, message_id: int) -> MessageRecord:
        # Built from what was written, through the same readers as a later SELECT, instead of a second query.
        values["id"] = message_id
        return MESSAGE.from_stored(values, self.tx.dialect)

    def add(self, new: NewMessage, owner: str | None = None) -> MessageRecord | None:
        """Append `new` and count it on its session (only `owner`'s when given); None when there is no such session."""
        tx, values = self.tx, self._stored(new)
        params = {**values, "sid": new.session_id, "now": values["timestamp"], "scope": owner}
        owned = owner is not None
        if tx.dialect.name == "postgresql":
            row = tx.run(count_and_insert_message[owned], params).fetchone()
            return None if row is None else self._record(values, row[0])
        if tx.run(increment_count[owned], params).rowcount != 1:
            return None
        return self._record(values, tx.run(insert_message, values).fetchone()[0])

    def add_many(self, news: list[NewMessage], owner: str | None = None) -> list[MessageRecord] | None:
        """Append a batch of one session's messages, in order, counted at once; None when there is no such session.

        The count's update locks the session's row first, so no other message of the session can land between
        the batch's (on SQLite, whose one writer holds the whole file, their ids are consecutive)."""
        tx, stored = self.tx, [self._stored(new) for new in news]
        params = {"sid": news[0].session_id, "now": stored[0]["timestamp"], "scope": owner, "n": len(news)}
        if tx.run(increment_count_by[owner is not None], params).rowcount != 1:
            return None
        return [self._record(values, tx.run(insert_message, values).fetchone()[0]) for values in stored]

    def add_reading_session(
        self, new: NewMessage, owner: str | None = None
    ) -> tuple[SessionRecord, MessageRecord] | None:
        """As add, also returning the session as the append left it (a turn's context); None without a session."""
        tx, values = self.tx, self._stored(new)
        params = {"sid": new.session_id, "now": values["timestamp"], "scope": owner}
        owned = owner is not None
        if tx.dialect.name == "postgresql":
            row = tx.run(count_insert_and_read_session[owned], {**values, **params}).fetchone()
            if row is None:
                return None
            return SESSION.from_driver_row(row, tx.dialect), self._record(values, row[-1])
        row = tx.run(count_and_read_session[owned], params).fetchone()
        if row is None:
            return None
        session = SESSION.from_driver_row(row, tx.dialect)
        return session, self._record(values, tx.run(insert_message, values).fetchone()[0])

    def get(self, session_id: str, message_id: int) -> MessageRecord | None:
        """One message of the session, or None."""
        row = self.tx.execute(select_message, {"sid": session_id, "id": message_id}).first()
        return None if row is None else MESSAGE.from_result_row(row)

    def newest(self, session_id: str, limit: int, before: int | None = None) -> list[MessageRecord]:
        """The newest `limit` messages (with id < before, when given), oldest first."""
        before = _bound(before)
        statement = newest_messages if before is None else newest_messages_before
        rows = self.tx.run(statement, {"sid": session_id, "limit": limit, "before": before}).fetchall()
        return self._oldest_first(rows)

    def newest_within(
        self, session_id: str, limit: int, before: int | None, max_bytes: int
    ) -> tuple[list[MessageRecord], bool]:
        """As newest, stopping at `max_bytes` of content and metadata (at least one message); and whether older
        messages remain. The cut is decided on sizes alone: a page never loads more than its budget plus one."""
        before = _bound(before)
        params = {"sid": session_id, "limit": limit + 1, "before": before}
        sizes = self.tx.run(newest_sizes if before is None else newest_sizes_before, params).fetchall()
        if not sizes:
            return [], False
        taken = fitting(sizes, limit, max_bytes)
        # Bounded by the newest id seen: a message appended meanwhile waits for the next read
        # (PostgreSQL's READ COMMITTED lets each statement see new commits).
        rows = self.tx.run(newest_messages_before, {**params, "limit": taken, "before": sizes[0][0] + 1}).fetchall()
        found = self._oldest_first(rows)
        return found, len(sizes) > taken and bool(found)

    def _oldest_first(self, rows: list) -> list[MessageRecord]:
        to_record = MESSAGE.converter(self.tx.dialect)
        return [to_record(row) for row in reversed(rows)]

    def latest_assistant_id(self, session_id: str) -> int | None:
        """The id of the session's newest assistant message, or None."""
        return self.tx.execute(latest_assistant_id, {"sid": session_id}).scalar()

    def rewrite(self, message_id: int, content: str, metadata: dict) -> None:
        """Replace a stored message's content and metadata (a reply cut to what the user heard)."""
        tokens = self.tx.count_tokens(content) if self.tx.count_tokens else None
        self.tx.execute(rewrite_message, {"mid": message_id, "text": content, "meta": metadata, "tokens": tokens})

    def clear(self, session_id: str, owner: str | None = None) -> bool:
        """Delete every message of the session (and its turns with the events that hold their text, and its summaries)
        and set its
        count to 0; False when there is no such session."""
        if not self.tx.execute(reset_count[owner is not None], {"sid": session_id, "scope": owner}).rowcount:
            return False
        delete_dependents(self.tx, [session_id])
        self.tx.execute(delete_messages, {"sid": session_id})
        return True

    def pop_newest(self, session_id: str) -> MessageRecord | None:
        """Delete and return the newest message, its session's count down with it; None when it has none."""
        row = self.tx.execute(newest_message, {"sid": session_id}).first()
        if row is None:
            return None
        self.tx.execute(delete_message, {"id": row.id})
        self.tx.execute(decrement_count, {"sid": session_id})
        return MESSAGE.from_result_row(row)
