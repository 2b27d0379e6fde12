"""A turn's two writes, each one short transaction: the user's message in, the reply out."""

from __future__ import annotations

from collections.abc import Callable

from backend.services.errors import SessionNotFound, TurnInProgress
from backend.services.messages import reachable
from backend.services.turns.guard import Turn
from backend.services.validation import check_new_message
from backend.settings import Limits
from backend.store.records import MessageRecord, NewMessage, TurnStart
from backend.store.unit_of_work import UnitOfWork


def open_turn(
    uow: UnitOfWork, limits: Limits, new: NewMessage, turn: Turn, *, history_limit: int, owner: str | None
) -> TurnStart:
    """The turn's first write: take the session's lease, store the user's message `new` (or reuse the one an
    earlier attempt with the same key stored), and read what the agent needs: the session as it now is and
    the `history_limit` messages before that message. TurnInProgress, SessionNotFound."""
    check_new_message(new, limits)
    session_id = new.session_id
    with uow.write() as store:
        try:
            turn.hold(store)
        except TurnInProgress:
            # Busy or not, a session that is not the caller's is missing: a 404, never a 409.
            reachable(store.sessions.get(session_id), session_id, owner)
            raise
        message = None if turn.message_id is None else store.messages.get(session_id, turn.message_id)
        if message is None:
            added = store.messages.add_reading_session(new, owner)
            if added is None:
                raise SessionNotFound(session_id)
            session, message = added
            turn.note_message(store, message)
        else:
            session = reachable(store.sessions.get(session_id), session_id, owner)
        history = store.messages.newest(session_id, history_limit, before=message.id) if history_limit > 0 else []
    return TurnStart(session, message, history)


def store_reply(
    uow: UnitOfWork,
    limits: Limits,
    reply: NewMessage,
    turn: Turn,
    outcome: Callable[[MessageRecord], dict],
    *,
    owner: str | None,
) -> MessageRecord:
    """The turn's last write: give the lease back (ReservationLost when it was taken over: nothing is
    stored), store the agent's `reply`, and the turn's `outcome(stored reply)` under its key."""
    check_new_message(reply, limits)
    with uow.write() as store:
        turn.end_lease(store)
        stored = store.messages.add(reply, owner)
        if stored is None:
            raise SessionNotFound(reply.session_id)
        turn.finish(store, outcome(stored))
        return stored
