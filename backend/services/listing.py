"""The listing: sessions most recently active first, keyset-paged by an opaque cursor, each with a preview."""

from __future__ import annotations

from backend.services.cursors import decode_listing_cursor, encode_cursor
from backend.services.validation import Problems, check_fingerprint, check_owner, check_page_limit
from backend.settings import Limits
from backend.store.records import SessionPage
from backend.store.unit_of_work import UnitOfWork

# Where a cursor stands: among sessions with a last_active (newest first), or past them, among
# sessions never active (by id).
DATED, UNDATED = "dated", "undated"


def list_sessions(
    uow: UnitOfWork,
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
    phase, after = DATED, None
    if cursor is not None:
        phase, key, sid = decode_listing_cursor(cursor, uow.cursor_key_types, (DATED, UNDATED))
        after = (key, sid)
    filters = {"device_fingerprint": device_fingerprint, "owner": owner}
    found = []
    with uow.read() as store:
        if phase == DATED:
            found = store.listing.page(dated=True, after=after, limit=limit + 1, **filters)
        if len(found) <= limit:
            after = after if phase == UNDATED else None
            found += store.listing.page(dated=False, after=after, limit=limit + 1 - len(found), **filters)
    more, found = len(found) > limit, found[:limit]
    next_cursor = None
    if more:
        last, raw_last_active = found[-1]
        next_cursor = encode_cursor([UNDATED if raw_last_active is None else DATED, raw_last_active, last.session_id])
    return SessionPage([summary for summary, _ in found], next_cursor)
