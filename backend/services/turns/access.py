"""A turn from outside it, from any worker or host: its state, its events (resumed after a dropped
connection), and a stop with what the user heard."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from backend.services.errors import InvalidInput, TurnMovedOn, TurnNotFound
from backend.services.idempotency import IdempotencyKeys, key_scope, now, request_hash
from backend.services.reach import reachable
from backend.services.turns.following import never_gone
from backend.services.turns.journal import FLUSH_S, RUNNING
from backend.services.turns.remote import RemoteFollowers
from backend.services.turns.writes import message_event
from backend.services.validation import (
    Problems,
    check_event_id,
    check_heard_chars,
    check_id,
    check_idempotency_key,
    check_lookup_id,
)
from backend.store.records import MessageRecord, record_from_json, record_to_json
from backend.store.turn_records import TurnEvent, TurnRecord, TurnState
from backend.store.unit_of_work import StoreTransaction, UnitOfWork

STOP_WAIT_S = 5.0  # how long a stop waits for a turn running elsewhere to end before it answers its state


def _turn(store: StoreTransaction, session_id: str, turn_id: str, owner: str | None) -> TurnRecord:
    # Another owner's session, or a turn of another session, is exactly a missing one.
    reachable(store.sessions.get(session_id), session_id, owner)
    turn = store.turns.get(turn_id)
    if turn is None or turn.session_id != session_id:
        raise TurnNotFound(turn_id)
    return turn


def _state(store: StoreTransaction, turn: TurnRecord) -> TurnState:
    reply = None if turn.reply_message_id is None else store.messages.get(turn.session_id, turn.reply_message_id)
    user_message = store.messages.get(turn.session_id, turn.user_message_id)
    return TurnState(turn.turn_id, turn.session_id, turn.status, user_message, reply)


def get_turn(uow: UnitOfWork, session_id: str, turn_id: str, owner: str | None = None) -> TurnState:
    """The turn's state: running, completed, interrupted or failed, its user message and stored reply."""
    check_id(session_id)
    with uow.read() as store:
        return _state(store, _turn(store, session_id, turn_id, owner))


def running_turn(uow: UnitOfWork, session_id: str, owner: str | None = None) -> TurnState | None:
    """The state of the newest turn still marked running on the session; None when there is none."""
    check_id(session_id)
    with uow.read() as store:
        reachable(store.sessions.get(session_id), session_id, owner)
        running = store.turns.running_on(session_id)
        if not running:
            return None
        return _state(store, max(running, key=lambda turn: (turn.created_at is not None, turn.created_at)))


def turn_events(
    uow: UnitOfWork,
    followers: RemoteFollowers,
    session_id: str,
    turn_id: str,
    after: int | None = None,
    *,
    owner: str | None = None,
    ttl_s: float = 3600.0,
    client_gone: Callable[[], bool] = never_gone,
) -> Iterator[TurnEvent]:
    """The turn's events after id `after` (all without it), then its live events until `done` or `error`, from
    whichever worker runs it; for `ttl_s` after the turn ended, what is left of them. Checked before the first."""
    problems = Problems()
    check_lookup_id(problems, session_id)
    check_event_id(problems, after, name="after")
    problems.raise_if_any()
    after = after or 0
    missed = None
    with uow.read() as store:  # one statement: a resume waits for this before its first event
        if turn_id in RUNNING:  # running in this process: its events are followed from memory
            session, turn, message = store.turns.with_session_and_message(session_id, turn_id)
        else:  # and what it missed, kept by the worker that runs it, in the same statement
            session, turn, message, missed = store.turns.with_session_message_and_events(
                session_id, turn_id, max(after, 1)
            )
    reachable(session, session_id, owner)  # another owner's session, or a turn of another session: a missing one
    if turn is None:
        raise TurnNotFound(turn_id)
    if turn.ended_at is not None and turn.ended_at + timedelta(seconds=ttl_s) < now():
        raise TurnNotFound(turn_id, "the turn's events are no longer kept (TURN_EVENTS_TTL_S)")
    return _follow(followers, turn, message, after, client_gone, missed)


def _follow(
    followers: RemoteFollowers,
    turn: TurnRecord,
    message: MessageRecord | None,
    after: int,
    client_gone: Callable[[], bool],
    missed: list[TurnEvent] | None,
) -> Iterator[TurnEvent]:
    local = RUNNING.get(turn.turn_id)
    if local is not None:  # running in this process: every event, as it happens
        yield from local.follow(after, client_gone)
        return
    if after < 1 and message is not None:  # event 1 is the user's message, built from the turn's row
        yield TurnEvent.of(1, "message", message_event(message, turn.turn_id))
        after = 1
    # `missed` was read after max(after, 1), as `after` now is unless the message row is gone; None when the turn
    # ran here at the check (it has ended since). Otherwise the followers read what it missed themselves.
    usable = missed if after >= 1 else None
    yield from followers.follow(turn.session_id, turn.turn_id, after, client_gone, usable)


def stop_turn(
    uow: UnitOfWork,
    keys: IdempotencyKeys,
    session_id: str,
    turn_id: str,
    heard_chars: int | None = None,
    *,
    owner: str | None = None,
    idempotency_key: str | None = None,
) -> TurnState:
    """Stop the turn with what the user heard: its first `heard_chars` characters (code points) stay the
    reply's content, the rest is kept as metadata "unheard", status "interrupted". A running turn stops on
    whichever worker runs it; an ended one has its stored reply cut the same way (TurnMovedOn when that reply is
    no longer the session's newest assistant message). Repeating a stop answers the same."""
    problems = Problems()
    check_heard_chars(problems, heard_chars)
    check_idempotency_key(problems, idempotency_key)
    problems.raise_if_any()
    if idempotency_key is None:
        return _stop(uow, session_id, turn_id, heard_chars, owner)
    fingerprint = request_hash("stop", session_id=session_id, turn_id=turn_id, heard_chars=heard_chars)
    claim = keys.reserve(key_scope(session_id, owner), idempotency_key, fingerprint, hold_s=STOP_WAIT_S + 5)
    if claim.replay is not None:
        nested = {"user_message": MessageRecord, "reply": MessageRecord}
        return record_from_json(TurnState, claim.replay.outcome, nested=nested)
    try:
        state = _stop(uow, session_id, turn_id, heard_chars, owner)
        with uow.write() as store:
            keys.complete(store, claim, 200, record_to_json(state))
        return state
    except BaseException:
        keys.release(claim)
        raise


def _stop(uow: UnitOfWork, session_id: str, turn_id: str, heard_chars: int | None, owner: str | None) -> TurnState:
    check_id(session_id)
    with uow.write() as store:
        turn = _turn(store, session_id, turn_id, owner)
        asked_elsewhere = turn.status == "running" and turn_id not in RUNNING
        if asked_elsewhere:
            store.turns.request_stop(turn_id, heard_chars)  # for the worker that runs it
    if asked_elsewhere:
        uow.doorbell.ring()  # committed: its journal reads the request now, not at its next look
    if turn.status == "running":
        local = RUNNING.get(turn_id)
        if local is not None:
            local.request_stop(heard_chars)
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline:
            state = get_turn(uow, session_id, turn_id, owner)
            if state.status != "running":
                return state
            time.sleep(FLUSH_S)
        return state
    with uow.write() as store:
        _cut(store, _turn(store, session_id, turn_id, owner), heard_chars)
        return _state(store, store.turns.get(turn_id))


def _cut(store: StoreTransaction, turn: TurnRecord, heard_chars: int | None) -> None:
    """An ended turn's stored reply cut to what was heard (in the session's lock: the count cannot drift)."""
    store.sessions.get(turn.session_id, for_update=True)
    if turn.reply_message_id is None or turn.status == "failed":
        raise TurnMovedOn(turn.turn_id, f"the turn ended {turn.status} with no reply to cut")
    if store.messages.latest_assistant_id(turn.session_id) != turn.reply_message_id:
        raise TurnMovedOn(turn.turn_id, "the conversation has moved on: its reply is no longer the newest")
    reply = store.messages.get(turn.session_id, turn.reply_message_id)
    whole = reply.content + reply.metadata.get("unheard", "")
    if heard_chars is not None and heard_chars > len(whole):
        raise InvalidInput({"heard_chars": [f"must be at most {len(whole)}, the length of the reply"]})
    cut = len(whole) if heard_chars is None else heard_chars
    metadata = {key: value for key, value in reply.metadata.items() if key != "unheard"}
    metadata = {**metadata, "status": "interrupted", **({"unheard": whole[cut:]} if whole[cut:] else {})}
    if (whole[:cut], metadata) != (reply.content, reply.metadata):
        store.messages.rewrite(reply.id, whole[:cut], metadata)
    store.turns.mark(turn.turn_id, "interrupted")
