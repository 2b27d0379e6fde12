"""The listing: sessions most recently active first, keyset-paged by an opaque cursor, each with a preview."""

from __future__ import annotations

import sqlalchemy as sa

from backend.services.cursors import decode_listing_cursor, encode_cursor
from backend.services.validation import Problems, check_fingerprint, check_owner, check_page_limit
from backend.settings import Limits
from backend.store import statements as st
from backend.store.records import SessionPage, SessionSummary
from backend.store.transaction import transaction

# Where a cursor stands: among sessions with a last_active (newest first), or past them, among
# sessions never active (by id).
DATED, UNDATED = "dated", "undated"


def list_sessions(
    engine: sa.Engine,
    limits: Limits,
    limit: int = 50,
    cursor: str | None = None,
    device_fingerprint: str | None = None,
    owner: str | None = None,
) -> SessionPage:
    """One page of sessions (only `owner`'s when given), most recently active first (ties by session_id)."""
    problems = Problems()
    check_page_limit(problems, limit, limits)
    check_fingerprint(problems, device_fingerprint, limits)
    check_owner(problems, owner, limits)
    problems.raise_if_any()
    phase, key, sid = DATED, None, None
    if cursor is not None:
        phase, key, sid = decode_listing_cursor(cursor, engine.dialect.name, (DATED, UNDATED))
    params = {"limit": limit + 1, "key": key, "sid": sid, "fingerprint": device_fingerprint, "scope": owner}
    filters = {"by_fingerprint": device_fingerprint is not None, "by_owner": owner is not None}
    rows = []
    with transaction(engine, write=False) as tx:
        if phase == DATED:
            statement = st.listing(dated=True, after_cursor=cursor is not None, **filters)
            rows = tx.execute(statement, params).all()
        if len(rows) <= limit:
            params["limit"] = limit + 1 - len(rows)
            statement = st.listing(dated=False, after_cursor=phase == UNDATED, **filters)
            rows += tx.execute(statement, params).all()
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(
            [UNDATED if last.raw_last_active is None else DATED, last.raw_last_active, last.session_id]
        )
    width = len(st.SESSION.columns)
    return SessionPage([SessionSummary(*row[:width], row.last_message_preview) for row in rows], next_cursor)
