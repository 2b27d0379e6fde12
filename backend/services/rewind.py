"""Rewind, regenerate, edit: the messages after one taken out of the history and the context, never deleted."""

from __future__ import annotations

from collections.abc import Iterable

from backend.services.errors import InvalidInput, TurnInProgress
from backend.services.etags import check_if_match
from backend.services.idempotency import IdempotencyKeys, key_scope, now, request_hash, retry_after_s
from backend.services.reach import reachable
from backend.services.validation import Problems, check_id, check_idempotency_key, check_positive_int
from backend.store.records import Rewound, record_from_json, record_to_json
from backend.store.unit_of_work import UnitOfWork


def rewind(
    uow: UnitOfWork,
    keys: IdempotencyKeys,
    session_id: str,
    after_message_id: int,
    *,
    owner: str | None,
    idempotency_key: str | None,
    if_match: str | Iterable[str] | None,
) -> Rewound:
    """See SessionService.rewind. One transaction, in the session's row lock: a turn that starts meanwhile
    waits for it and appends after the rewind; one that runs (it holds the session's lease) makes it a 409."""
    check_id(session_id)
    problems = Problems()
    check_positive_int(problems, "after_message_id", after_message_id)
    check_idempotency_key(problems, idempotency_key)
    problems.raise_if_any()
    with uow.write() as store:
        claim = None
        if idempotency_key is not None:
            fingerprint = request_hash("rewind", session_id=session_id, after_message_id=after_message_id)
            claim = keys.claim(store, key_scope(session_id, owner), idempotency_key, fingerprint)
            if claim.replay is not None:
                return record_from_json(Rewound, claim.replay.outcome)
        session = reachable(store.sessions.get(session_id, for_update=True), session_id, owner)
        check_if_match(session, if_match)
        current = now()
        held_until = store.leases.expiry(session_id)
        if held_until is not None and held_until > current:
            raise TurnInProgress(session_id, retry_after_s(held_until, current))
        if not store.rewind.is_live(session_id, after_message_id):
            raise InvalidInput({"after_message_id": ["must be the id of a message in this session's history"]})
        superseded = store.rewind.supersede_after(session_id, after_message_id, current)
        done = Rewound(session_id, after_message_id, superseded, (session.message_count or 0) - superseded)
        if claim is not None:
            keys.complete(store, claim, 200, record_to_json(done))
        return done
