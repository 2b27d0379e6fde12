"""A turn's two writes, each one short transaction: the user's message in, the turn's ending out."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from backend.services.errors import SessionNotFound, TurnInProgress
from backend.services.idempotency import now
from backend.services.reach import reachable
from backend.services.turns.guard import Turn
from backend.services.validation import check_new_message
from backend.settings import Limits
from backend.store.records import MessageRecord, NewMessage, record_to_json
from backend.store.turn_records import TurnRecord, TurnStart, event_json
from backend.store.unit_of_work import StoreTransaction, UnitOfWork

ErrorBody = Callable[[Exception], dict]
# The last event of a turn whose worker died, whoever ends it (the next turn, or a follower).
ABANDONED = {
    "code": 502,
    "status": "Bad Gateway",
    "message": "the worker running this turn stopped before it ended; what it had said is stored as failed",
}


def message_event(message: MessageRecord, turn_id: str) -> dict:
    """The data of a turn's first event: the user's stored message, and the turn's id."""
    return {**record_to_json(message), "turn_id": turn_id}


def open_turn(
    uow: UnitOfWork,
    limits: Limits,
    new: NewMessage,
    turn: Turn,
    *,
    turn_id: str,
    history_limit: int,
    owner: str | None,
) -> TurnStart:
    """The turn's first write: take the session's lease, end any turn of the session whose worker died, store
    the user's message `new` (or reuse the one an earlier attempt with the same key stored), record the turn,
    and read what the agent needs: the session as it now is and the `history_limit`
    messages before that message. TurnInProgress, SessionNotFound."""
    check_new_message(new, limits)
    session_id = new.session_id
    with uow.write() as store:
        try:
            turn.hold(store)
        except TurnInProgress:
            # Busy or not, a session that is not the caller's is missing: a 404, never a 409.
            reachable(store.sessions.get(session_id), session_id, owner)
            raise
        for dead in store.turns.running_on(session_id):  # the lease is ours: whoever ran these is gone
            end_abandoned(store, dead)
        message = None if turn.message_id is None else store.messages.get(session_id, turn.message_id)
        if message is None:
            added = store.messages.add_reading_session(new, owner)
            if added is None:
                raise SessionNotFound(session_id)
            session, message = added
            turn.note_message(store, message)
        else:
            session = reachable(store.sessions.get(session_id), session_id, owner)
        # The turn's first event (its user message) is not written: a reader builds it from these two rows.
        store.turns.add(turn_id, session_id, message.id, now())
        history = store.messages.newest(session_id, history_limit, before=message.id) if history_limit > 0 else []
    return TurnStart(session, message, history)


def end_abandoned(store: StoreTransaction, dead: TurnRecord) -> None:
    """In a transaction holding the session's lease: what a turn whose worker died had said (its kept deltas)
    stored as its reply with status failed, and its events ended with an `error` event."""
    events = store.turns.events_after(dead.turn_id, 0)
    text = "".join(event.data["text"] for event in events if event.event == "delta")
    reply = None
    if text:
        reply = store.messages.add(NewMessage(dead.session_id, "assistant", text, {"status": "failed"}))
    last = events[-1].id if events else 1  # event 1, its message, is built from the turn's row
    error = [(dead.turn_id, last + 1, "error", event_json(ABANDONED))]
    store.turns.end(dead.turn_id, "failed", None if reply is None else reply.id, now(), error)


@dataclass
class Ending:
    """How a turn ends: its status, the reply to store (None: nothing was said), the events still to keep, and
    its last event's name. `keeps_key`: the lease goes back and the outcome is stored under the key in this
    write (completed or stopped); otherwise the key is released after, for a retry to ask again."""

    turn_id: str
    status: str
    reply: NewMessage | None
    last_seq: int
    events: list[tuple[str, int, str, str]] = field(default_factory=list)
    last_event: str = "done"
    keeps_key: bool = True


def end_turn(
    uow: UnitOfWork,
    ending: Ending,
    turn: Turn,
    *,
    last_data: Callable[[MessageRecord | None], dict | None],
    outcome: Callable[[MessageRecord | None], dict],
    owner: str | None,
) -> tuple[MessageRecord | None, dict]:
    """The turn's last write: the lease back (ReservationLost when another turn took it over: nothing is
    stored), the reply stored and counted, the turn's state, its remaining events and its last one, and the
    outcome under its key. The stored reply and the last event's data."""
    with uow.write() as store:
        if ending.keeps_key:
            turn.end_lease(store)
        stored = None
        if ending.reply is not None:
            stored = store.messages.add(ending.reply, owner)
            if stored is None:
                raise SessionNotFound(ending.reply.session_id)
        data = last_data(stored)
        events = [*ending.events, (ending.turn_id, ending.last_seq, ending.last_event, event_json(data))]
        store.turns.end(ending.turn_id, ending.status, None if stored is None else stored.id, now(), events)
        if ending.keeps_key:
            turn.finish(store, outcome(stored))
        return stored, data


def end_abandoned_turns(uow: UnitOfWork, session_id: str, lease_s: float) -> None:
    """End the session's turns whose worker died, if no live turn holds its lease (a follower's check)."""
    token, current = secrets.token_urlsafe(16), now()
    with uow.write() as store:
        if not store.leases.take(session_id, token, current, current + timedelta(seconds=lease_s)):
            return  # held: by a live turn, which ends (or finds abandoned) any turn before it
        for dead in store.turns.running_on(session_id):
            end_abandoned(store, dead)
        store.leases.release(session_id, token)
