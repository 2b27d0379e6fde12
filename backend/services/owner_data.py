"""A user's data, whole: a copy of everything stored of an owner (export) and its erasure, for good.

Export streams records in short read transactions (a batch of sessions, a page of messages), never holding one
across the client's pace: memory and transactions stay small whatever the owner holds. Erase deletes a batch of
sessions per transaction, with every row that hangs off them, then removes what SQLite would keep in the file.
Each ends with one audit line: who asked, which owner, the counts; never content.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from backend.services.errors import TurnInProgress
from backend.services.idempotency import key_scope, now, retry_after_s
from backend.services.validation import Problems, check_owner
from backend.settings import Limits
from backend.store.erasure import Scrubbed
from backend.store.records import record_to_json
from backend.store.unit_of_work import UnitOfWork

audit = logging.getLogger("backend.audit")

EXPORT_FORMAT = 1
SESSION_BATCH = 100
MESSAGE_PAGE = 500
ERASED_KINDS = ("sessions", "messages", "summaries", "turns", "turn_events", "turn_leases", "idempotency_keys")


@dataclass(frozen=True, slots=True)
class ErasedCounts:
    """Rows erased, by kind; and whether the SQLite file was scrubbed of them (None on PostgreSQL)."""

    owner: str
    counts: dict[str, int] = field(default_factory=dict)
    file_scrubbed: bool | None = None
    scrub: Scrubbed | None = None  # SQLite: how the file was scrubbed (merge steps, the longest lock held)

    def as_dict(self) -> dict:
        """The answer of an erase: {"owner", "erased": {kind: count}, "file_scrubbed"}."""
        return {
            "owner": self.owner,
            "erased": {kind: self.counts.get(kind, 0) for kind in ERASED_KINDS},
            "file_scrubbed": self.file_scrubbed,
        }


def check_owner_named(problems: Problems, owner, limits: Limits) -> None:
    """The owner an export or erase is about: a non-empty string within the configured length."""
    if owner is None:
        problems.add("owner", "must be a non-empty string")
    else:
        check_owner(problems, owner, limits)


def _checked(owner, limits: Limits) -> str:
    problems = Problems()
    check_owner_named(problems, owner, limits)
    problems.raise_if_any()
    return owner


def export_owner(uow: UnitOfWork, limits: Limits, owner: str, *, actor: str) -> Iterator[dict]:
    """Every session of `owner` (by id), each followed by its messages (superseded ones marked), summaries and
    turns, as JSON-ready records; the first record says what the export is, the last that it is complete."""
    return _export(uow, _checked(owner, limits), actor)  # checked now: a bad owner is an error before any record


def _export(uow: UnitOfWork, owner: str, actor: str) -> Iterator[dict]:
    counts: Counter[str] = Counter()
    complete = False
    try:
        yield {"type": "export", "format": EXPORT_FORMAT, "owner": owner, "exported_at": now().isoformat()}
        after = ""
        while True:
            with uow.read() as store:
                batch = store.owners.sessions(owner, after, SESSION_BATCH)
            for session in batch:
                yield from _session_records(uow, session, counts)
            if len(batch) < SESSION_BATCH:
                break
            after = batch[-1].session_id
        yield {"type": "end", **{kind: counts[kind] for kind in ("sessions", "messages", "summaries", "turns")}}
        complete = True
    finally:
        audit.info(
            "export of owner %s by %s (complete: %s): %s",
            owner,
            actor,
            complete,
            dict(counts),
            extra={"audit": "export", "actor": actor, "owner": owner, "complete": complete, "counts": dict(counts)},
        )


def _session_records(uow: UnitOfWork, session, counts: Counter) -> Iterator[dict]:
    counts["sessions"] += 1
    yield {"type": "session", **record_to_json(session)}
    after = 0
    while True:
        with uow.read() as store:
            page = store.owners.messages(session.session_id, after, MESSAGE_PAGE)
        for message, superseded in page:
            counts["messages"] += 1
            yield {"type": "message", **record_to_json(message), "superseded": superseded}
        if len(page) < MESSAGE_PAGE:
            break
        after = page[-1][0].id
    with uow.read() as store:
        summaries, turns = store.owners.summaries(session.session_id), store.owners.turns(session.session_id)
    for summary in summaries:
        counts["summaries"] += 1
        yield {"type": "summary", **record_to_json(summary)}
    for turn in turns:
        counts["turns"] += 1
        yield {"type": "turn", **record_to_json(turn)}


def erase_owner(uow: UnitOfWork, limits: Limits, owner: str, *, actor: str) -> ErasedCounts:
    """Delete every session of `owner` with all that hangs off it, a batch of sessions per transaction, then
    scrub the SQLite file; the counts (all zero when there was nothing left to erase)."""
    owner = _checked(owner, limits)
    counts: Counter[str] = Counter()
    while True:
        with uow.write() as store:
            locked = store.owners.sessions(owner, "", SESSION_BATCH, for_update=True)
            batch = [session.session_id for session in locked]
            running = store.owners.running_turn(batch, now()) if batch else None
            if running is not None:
                # Its runner would go on writing events and a reply after the rows are gone: the erase waits.
                raise TurnInProgress(running[0], retry_after_s(running[1], now()))
            scopes = [key_scope(None, owner), *(key_scope(sid) for sid in batch)]
            counts.update(store.owners.erase(owner, batch, scopes))
        if not batch:  # until a read finds none: sessions made meanwhile go too
            break
    # Only messages are in the search index: without one erased, merging it would rewrite it for nothing.
    scrubbed = uow.scrub(merge_search_index=counts["messages"] > 0)
    erased = ErasedCounts(owner, dict(counts), None if scrubbed is None else scrubbed.wal_truncated, scrubbed)
    audit.info(
        "erase of owner %s by %s: %s",
        owner,
        actor,
        erased.as_dict()["erased"],
        extra={"audit": "erase", "actor": actor, "owner": owner, **erased.as_dict()},
    )
    return erased
