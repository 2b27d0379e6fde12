"""The listing of sessions: most recently active first, keyset-paged on (last_active, session_id)."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from backend.store.records import SessionSummary
from backend.store.repositories import Repository
from backend.store.sql import SESSION, messages, sessions

# Ordered by the raw columns so that the indexes of revision 0002 serve it. The cursor keeps the
# raw stored value (text or a legacy epoch on SQLite, a timestamp on PostgreSQL), so the column is
# read and compared untyped. Sessions never active (NULL last_active) come after all others.
raw_last_active = sa.type_coerce(sessions.c.last_active, sa.types.NullType())
PREVIEW_CHARS = 100
_last_message = messages.alias("last_message")
last_message_preview = (
    sa.select(sa.func.substr(_last_message.c.content, 1, PREVIEW_CHARS))
    .where(_last_message.c.session_id == sessions.c.session_id, _last_message.c.superseded_at.is_(None))
    .order_by(_last_message.c.id.desc())
    .limit(1)
    .scalar_subquery()
)


@functools.cache
def listing(*, dated: bool, after_cursor: bool, by_fingerprint: bool, by_owner: bool) -> sa.Select:
    """One page of the listing: sessions with a last_active (`dated`), or those without, after them."""
    statement = SESSION.select().add_columns(
        raw_last_active.label("raw_last_active"), last_message_preview.label("last_message_preview")
    )
    if by_owner:
        statement = statement.where(sessions.c.owner == sa.bindparam("scope", type_=sa.Text))
    if by_fingerprint:
        statement = statement.where(sessions.c.device_fingerprint == sa.bindparam("fingerprint", type_=sa.Text))
    if not dated:
        statement = statement.where(sessions.c.last_active.is_(None))
        if after_cursor:
            statement = statement.where(sessions.c.session_id < sa.bindparam("sid", type_=sa.Text))
        return statement.order_by(sessions.c.session_id.desc()).limit(sa.bindparam("limit"))
    statement = statement.where(sessions.c.last_active.is_not(None))
    if after_cursor:
        position = sa.tuple_(raw_last_active, sessions.c.session_id)
        statement = statement.where(position < sa.tuple_(sa.bindparam("key"), sa.bindparam("sid", type_=sa.Text)))
    newest_first = (sessions.c.last_active.desc(), sessions.c.session_id.desc())
    return statement.order_by(*newest_first).limit(sa.bindparam("limit"))


class SessionListing(Repository):
    """Pages of the listing, each session with the raw last_active its cursor keeps."""

    __slots__ = ()

    def page(
        self,
        *,
        dated: bool,
        after: tuple[Any, str] | None,
        limit: int,
        device_fingerprint: str | None,
        owner: str | None,
    ) -> list[tuple[SessionSummary, Any]]:
        """Up to `limit` sessions of one phase (`dated`: those with a last_active) after the cursor position
        `after` (raw last_active, session_id), newest first; each with its raw last_active."""
        key, sid = after if after is not None else (None, None)
        params = {"limit": limit, "key": key, "sid": sid, "fingerprint": device_fingerprint, "scope": owner}
        statement = listing(
            dated=dated,
            after_cursor=after is not None,
            by_fingerprint=device_fingerprint is not None,
            by_owner=owner is not None,
        )
        width = len(SESSION.columns)
        return [
            (SessionSummary(*row[:width], row.last_message_preview), row.raw_last_active)
            for row in self.tx.execute(statement, params)
        ]
