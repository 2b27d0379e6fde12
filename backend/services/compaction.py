"""Compaction: a session's history (or its newest messages) replaced by a shorter one, as a rewind plus a batch in
one transaction. The replaced messages are superseded, never deleted: still stored, readable with
get_history_page(include_superseded=True)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from backend.services.batch_rules import check_new_messages
from backend.services.errors import InvalidInput, TurnInProgress
from backend.services.idempotency import now, retry_after_s
from backend.services.reach import reachable
from backend.services.validation import check_id
from backend.settings import Limits
from backend.store.records import MessageRecord, NewMessage
from backend.store.unit_of_work import StoreTransaction, UnitOfWork

PREFIX_PAGE = 100  # oldest messages looked at a time when retiring a prefix


def replace_history(
    uow: UnitOfWork,
    limits: Limits,
    news: list[NewMessage],
    session_id: str,
    *,
    replacing: Sequence[MessageRecord] | None,
    retire_prefix: Callable[[MessageRecord], bool] | None,
    owner: str | None,
) -> list[MessageRecord] | None:
    """See SessionService.replace_history. One write transaction, in the session's row lock (as a rewind)."""
    check_id(session_id)
    if news:
        check_new_messages(news, limits)
    if replacing is not None and not replacing:
        raise InvalidInput({"replacing": ["must name at least 1 message"]})
    with uow.write() as store:
        reachable(store.sessions.get(session_id, for_update=True), session_id, owner)
        current = now()
        held_until = store.leases.expiry(session_id)
        if held_until is not None and held_until > current:
            raise TurnInProgress(session_id, retry_after_s(held_until, current))
        if replacing is None:
            store.rewind.supersede_after(session_id, 0, current)  # ids start at 1: the whole history
        else:
            if store.messages.newest(session_id, len(replacing)) != list(replacing):
                return None  # another write landed since they were read: nothing changes
            if retire_prefix is not None:
                _retire_prefix(store, session_id, replacing[0].id, retire_prefix, current)
            # Ids are integers: "after the one before the first" is the first and every later one.
            store.rewind.supersede_after(session_id, replacing[0].id - 1, current)
        if not news:
            return []
        return store.messages.add_many(news, owner)


def _retire_prefix(
    store: StoreTransaction, session_id: str, before: int, retire: Callable[[MessageRecord], bool], current
) -> None:
    """Supersede the oldest messages before `before` for which `retire` is true, up to the first one for which it
    is not (it and every later message stay)."""
    while page := store.rewind.oldest_live(session_id, before, PREFIX_PAGE):
        last = None
        for message in page:
            if not retire(message):
                break
            last = message
        if last is None:
            return
        store.rewind.supersede_through(session_id, last.id, current)
        if last is not page[-1] or len(page) < PREFIX_PAGE:
            return
