"""SessionService: every operation on sessions and their messages, one short transaction each."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

from backend.services.errors import SessionNotFound
from backend.services.etags import check_if_match
from backend.services.idempotency import key_scope, now, request_hash
from backend.services.inspection import InspectionService
from backend.services.listing import list_sessions
from backend.services.operator import OperatorService
from backend.services.reach import reachable
from backend.services.turns import access
from backend.services.turns.remote import RemoteFollowers
from backend.services.validation import (
    Problems,
    check_fingerprint,
    check_id,
    check_idempotency_key,
    check_lookup_id,
    check_metadata,
    check_owner,
    new_session_id_problem,
)
from backend.store.records import (
    NewSession,
    SessionPage,
    SessionRecord,
    SessionStats,
    record_from_json,
    record_to_json,
)
from backend.store.turn_records import TurnEvent, TurnState
from backend.store.unit_of_work import StoreTransaction

_UNSET: Any = object()


def new_session_id() -> str:
    """An unguessable id: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class SessionService(InspectionService, OperatorService):
    """Sessions, their messages (MessageService), what an agent reads of them (ContextService) and an operator
    (InspectionService, OperatorService); usable with or without Flask.

    Every method takes an optional `owner`: a session of another owner (or of none) is then
    exactly a missing one. The agent process is trusted and leaves it out.
    """

    def get_or_create_session(
        self,
        session_id: str | None = None,
        metadata: dict | None = None,
        device_fingerprint: str | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> SessionRecord:
        """The session with this id (last_active refreshed), created when absent (see open_session)."""
        return self.open_session(
            session_id, metadata, device_fingerprint, owner=owner, idempotency_key=idempotency_key
        )[0]

    def open_session(
        self,
        session_id: str | None = None,
        metadata: dict | None = None,
        device_fingerprint: str | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[SessionRecord, bool]:
        """As get_or_create_session, and whether the session was created by this call.

        With `owner`, a new session belongs to it and always gets a generated id: a given id only
        reopens one of the owner's own sessions (SessionNotFound otherwise), so that no answer tells
        whether another owner holds that id. An existing session keeps its metadata and fingerprint
        (update_session changes them). With an idempotency key, a repeat returns the first call's
        session and answer, with no new effect.
        """
        new = NewSession(session_id, metadata, device_fingerprint, owner)
        problems = Problems()
        check_idempotency_key(problems, idempotency_key)
        if session_id is not None:
            check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        check_fingerprint(problems, device_fingerprint, self.limits)
        check_owner(problems, owner, self.limits)
        if problems.errors:
            # Name every problem at once: an id only a new session may not have counts too,
            # unless the session exists (legacy ids keep working). A scoped caller never names one.
            if "session_id" not in problems.errors and session_id is not None and owner is None:
                id_problem = new_session_id_problem(session_id, self.limits)
                if id_problem and not self._exists(session_id):
                    problems.add("session_id", id_problem)
            problems.raise_if_any()
        with self.uow.write() as store:
            if idempotency_key is None:
                return self._open(store, new, problems)
            claim = self.keys.claim(store, key_scope(session_id, owner), idempotency_key, request_hash("open", new=new))
            if claim.replay is not None:
                return record_from_json(SessionRecord, claim.replay.outcome), claim.replay.status == 201
            record, created = self._open(store, new, problems)
            self.keys.complete(store, claim, 201 if created else 200, record_to_json(record))
            return record, created

    def _open(self, store: StoreTransaction, new: NewSession, problems: Problems) -> tuple[SessionRecord, bool]:
        current = now()
        if new.owner is not None and new.session_id is not None:
            if not store.sessions.touch(new.session_id, current, owner=new.owner):
                raise SessionNotFound(new.session_id)
            return store.sessions.get(new.session_id), False
        if new.session_id is None:
            new = NewSession(new_session_id(), new.metadata, new.device_fingerprint, new.owner)
        if store.sessions.touch(new.session_id, current):
            return store.sessions.get(new.session_id), False
        id_problem = new_session_id_problem(new.session_id, self.limits)
        if id_problem:
            problems.add("session_id", id_problem)
            problems.raise_if_any()
        created = store.sessions.add_if_absent(new, current)
        if not created:
            store.sessions.touch(new.session_id, current)
        return store.sessions.get(new.session_id), created

    def get_session(self, session_id: str, *, owner: str | None = None) -> SessionRecord:
        """The session, or SessionNotFound (also when `owner` is given and the session is not its)."""
        check_id(session_id)
        with self.uow.read() as store:
            return reachable(store.sessions.get(session_id), session_id, owner)

    def update_session(
        self,
        session_id: str,
        metadata: dict | None = None,
        device_fingerprint: str | None = _UNSET,
        *,
        owner: str | None = None,
        if_match: str | Iterable[str] | None = None,
    ) -> SessionRecord:
        """Merge `metadata` into the session's (a key set to None is removed); set device_fingerprint when given.

        With `if_match` (ETags, see etags.session_etag), PreconditionFailed unless the session is still at one of them.
        """
        problems = Problems()
        check_lookup_id(problems, session_id)
        check_metadata(problems, metadata, self.limits)
        if device_fingerprint is not _UNSET:
            check_fingerprint(problems, device_fingerprint, self.limits)
        problems.raise_if_any()
        with self.uow.write() as store:
            current = reachable(store.sessions.get(session_id, for_update=True), session_id, owner)
            check_if_match(current, if_match)  # under the row lock: no update slips in between
            merged = current.metadata
            if metadata:
                # Only the keys this patch sets to None go; stored values are never judged again.
                merged = {**merged, **metadata}
                merged = {k: v for k, v in merged.items() if not (k in metadata and metadata[k] is None)}
                check_metadata(problems, merged, self.limits)
                problems.raise_if_any()
            fingerprint = current.device_fingerprint if device_fingerprint is _UNSET else device_fingerprint
            store.sessions.update(session_id, merged, fingerprint, now())
            return store.sessions.get(session_id)

    def delete_session(
        self, session_id: str, *, owner: str | None = None, if_match: str | Iterable[str] | None = None
    ) -> None:
        """Delete the session and all its messages (with `if_match`, only while the session is at that ETag)."""
        check_id(session_id)
        with self.uow.write() as store:
            # Lock the row first (PostgreSQL): an append racing in would otherwise insert a message
            # between the two deletes and fail the second on the foreign key.
            check_if_match(reachable(store.sessions.get(session_id, for_update=True), session_id, owner), if_match)
            store.sessions.delete(session_id)

    def get_session_stats(self, session_id: str, *, owner: str | None = None) -> SessionStats:
        """Counts and times of the session: per role, first and last message."""
        check_id(session_id)
        with self.uow.read() as store:
            session = reachable(store.sessions.get(session_id), session_id, owner)
            by_role, first, last = store.sessions.message_stats(session_id)
        return SessionStats(
            session_id=session.session_id,
            message_count=session.message_count,
            created_at=session.created_at,
            last_active=session.last_active,
            first_message_at=first,
            last_message_at=last,
            messages_by_role=by_role,
        )

    def list_sessions(
        self,
        limit: int = 50,
        cursor: str | None = None,
        device_fingerprint: str | None = None,
        *,
        owner: str | None = None,
    ) -> SessionPage:
        """Sessions (only `owner`'s when given), most recently active first (ties by session_id), keyset-paged
        by an opaque cursor; each with a preview of its last message."""
        return list_sessions(self.uow, self.limits, limit, cursor, device_fingerprint, owner)

    def _exists(self, session_id: str) -> bool:
        with self.uow.read() as store:
            return store.sessions.exists(session_id)

    # -- turns ----------------------------------------------------------------------------

    def get_turn(self, session_id: str, turn_id: str, *, owner: str | None = None) -> TurnState:
        """The turn's state (running|completed|interrupted|failed), its user message and its stored reply."""
        return access.get_turn(self.uow, session_id, turn_id, owner)

    def stop_turn(
        self,
        session_id: str,
        turn_id: str,
        heard_chars: int | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> TurnState:
        """Stop the turn, on whichever worker or host runs it, or cut its stored reply once it ended: the first
        `heard_chars` Unicode code points stay the reply's content, the rest is kept as metadata "unheard"."""
        return access.stop_turn(
            self.uow, self.keys, session_id, turn_id, heard_chars, owner=owner, idempotency_key=idempotency_key
        )

    def turn_events(
        self, session_id: str, turn_id: str, after: int | None = None, *, owner: str | None = None
    ) -> Iterator[TurnEvent]:
        """The turn's events after id `after` (every one without it), then live until `done` or `error`."""
        return access.turn_events(
            self.uow, self.followers, session_id, turn_id, after, owner=owner, ttl_s=self.turn_events_ttl_s
        )

    @functools.cached_property
    def followers(self) -> RemoteFollowers:
        """The one reader of this service's turns that run elsewhere, for every follower (made on first use)."""
        return RemoteFollowers(self.uow, lease_s=self.turn_lease_s)
