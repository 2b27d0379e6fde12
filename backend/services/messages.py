"""MessageService: the messages of sessions (append, page, clear, pop) and the service's construction;
SessionService (services.session) adds the sessions themselves."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import sqlalchemy as sa

from backend.services.batch_rules import check_new_messages
from backend.services.errors import InvalidInput, SessionNotFound
from backend.services.idempotency import DEFAULT_TTL_S, IdempotencyKeys, key_scope, request_hash
from backend.services.reach import reachable
from backend.services.token_counts import DEFAULT_TOKENIZER, TokenCounter
from backend.services.validation import check_id, check_new_message, check_page
from backend.settings import Config, Limits
from backend.store.engines import engine_for
from backend.store.records import (
    HistoryPage,
    MessageRecord,
    NewMessage,
    record_from_json,
    record_to_json,
)
from backend.store.unit_of_work import StoreTransaction, UnitOfWork

DEFAULT_TURN_EVENTS_TTL_S = 3600.0
DEFAULT_TURN_LEASE_S = 5.0


class _Kept(Exception):
    """Rolls back a pop whose message the caller did not accept."""


class MessageService:
    """Messages of sessions, one short transaction each; `owner` scopes every call as in SessionService."""

    def __init__(
        self,
        url_or_engine: str | sa.Engine | None = None,
        *,
        limits: Limits | None = None,
        idempotency_ttl_s: float | None = None,
        turn_events_ttl_s: float | None = None,
        turn_lease_s: float | None = None,
        tokenizer: str | None = None,
    ):
        if url_or_engine is None:
            config = Config()
            url_or_engine, limits = config.DATABASE_URL, limits or config.LIMITS
            idempotency_ttl_s = idempotency_ttl_s or config.IDEMPOTENCY_TTL_S
            turn_events_ttl_s = turn_events_ttl_s or config.TURN_EVENTS_TTL_S
            turn_lease_s = turn_lease_s or config.TURN_LEASE_S
            tokenizer = tokenizer or config.TOKENIZER
        self.engine = engine_for(url_or_engine)
        self.count_tokens = TokenCounter(tokenizer or DEFAULT_TOKENIZER)
        self.uow = UnitOfWork(self.engine, count_tokens=self.count_tokens)
        self.limits = limits or Limits.from_env()
        self.keys = IdempotencyKeys(self.uow, ttl_s=idempotency_ttl_s or DEFAULT_TTL_S)
        self.turn_events_ttl_s = turn_events_ttl_s or DEFAULT_TURN_EVENTS_TTL_S
        self.turn_lease_s = turn_lease_s or DEFAULT_TURN_LEASE_S

    # -- messages -----------------------------------------------------------------------

    def save_message(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """Append a message, count it and refresh last_active in one transaction; return its id."""
        new = NewMessage(session_id, role, content, metadata)
        return self.append(new, owner=owner, idempotency_key=idempotency_key).id

    def add_message(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict | None = None,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> MessageRecord:
        """As save_message, returning the stored message (as a later read would return it)."""
        return self.append(
            NewMessage(session_id, role, content, metadata), owner=owner, idempotency_key=idempotency_key
        )

    def append(self, new: NewMessage, *, owner: str | None = None, idempotency_key: str | None = None) -> MessageRecord:
        """Append `new` (see add_message). With an idempotency key, a repeat returns the first call's message
        and stores nothing; the outcome is stored in the transaction of the append."""
        check_new_message(new, self.limits, idempotency_key)
        if idempotency_key is None:
            with self.uow.write(one_statement=True) as store:  # one statement on PostgreSQL
                return self._appended(store.messages.add(new, owner), new)
        with self.uow.write() as store:
            claim = self.keys.claim(
                store, key_scope(new.session_id, owner), idempotency_key, request_hash("add", new=new)
            )
            if claim.replay is not None:
                return record_from_json(MessageRecord, claim.replay.outcome)
            message = self._appended(store.messages.add(new, owner), new)
            self.keys.complete(store, claim, 201, record_to_json(message))
            return message

    def save_messages(
        self,
        session_id: str,
        messages: Iterable[dict],
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[MessageRecord]:
        """Append a batch, each {"role", "content", "metadata"?}: all in one transaction, in order, with no other
        message of the session between them, or none (InvalidInput naming each bad item by its index)."""
        news = [NewMessage(session_id=session_id, **message) for message in messages]
        return self.append_many(news, owner=owner, idempotency_key=idempotency_key)

    def append_many(
        self, news: list[NewMessage], *, owner: str | None = None, idempotency_key: str | None = None
    ) -> list[MessageRecord]:
        """Append a batch of one session's NewMessages (see save_messages); an Idempotency-Key covers it whole."""
        check_new_messages(news, self.limits, idempotency_key)
        if len({new.session_id for new in news}) != 1:
            raise InvalidInput({"messages": ["must all be messages of one session"]})
        session_id = news[0].session_id
        with self.uow.write() as store:
            claim = None
            if idempotency_key is not None:
                fingerprint = request_hash("add_many", news=[dataclasses.asdict(new) for new in news])
                claim = self.keys.claim(store, key_scope(session_id, owner), idempotency_key, fingerprint)
                if claim.replay is not None:
                    return [record_from_json(MessageRecord, item) for item in claim.replay.outcome["messages"]]
            added = store.messages.add_many(news, owner)
            if added is None:
                raise SessionNotFound(session_id)
            if claim is not None:
                self.keys.complete(store, claim, 201, {"messages": [record_to_json(message) for message in added]})
            return added

    @staticmethod
    def _appended(message: MessageRecord | None, new: NewMessage) -> MessageRecord:
        if message is None:
            raise SessionNotFound(new.session_id)
        return message

    def get_chat_history(
        self, session_id: str, limit: int = 50, before: int | None = None, *, owner: str | None = None
    ) -> list[MessageRecord]:
        """The newest `limit` messages (with id < before, when given), oldest first."""
        check_page(session_id, limit, before, self.limits)
        with self.uow.read() as store:
            self._check_reachable(store, session_id, owner)
            messages = store.messages.newest(session_id, limit, before)
            if not messages and owner is None and not store.sessions.exists(session_id):
                raise SessionNotFound(session_id)
        return messages

    def get_history_page(
        self,
        session_id: str,
        limit: int = 50,
        before: int | None = None,
        *,
        owner: str | None = None,
        include_superseded: bool = False,
    ) -> HistoryPage:
        """As get_chat_history, also stopping at limits.max_page_bytes of content and metadata (at least one
        message), and the `before` of the page before it (None when there is none). With `include_superseded`,
        the messages a rewind took out are in it too, their ids in the page's `superseded`."""
        check_page(session_id, limit, before, self.limits)
        superseded: frozenset[int] = frozenset()
        with self.uow.read() as store:
            self._check_reachable(store, session_id, owner)
            if include_superseded:
                found, more = store.rewind.newest_with_superseded(session_id, limit, before, self.limits.max_page_bytes)
                messages, superseded = [m for m, _ in found], frozenset(m.id for m, out in found if out)
            else:
                messages, more = store.messages.newest_within(session_id, limit, before, self.limits.max_page_bytes)
            if not messages and owner is None and not store.sessions.exists(session_id):
                raise SessionNotFound(session_id)
        return HistoryPage(session_id, messages, messages[0].id if more else None, superseded)

    @staticmethod
    def _check_reachable(store: StoreTransaction, session_id: str, owner: str | None) -> None:
        # Scoped reads check the owner first; unscoped ones only when the page comes back empty.
        if owner is not None and not store.sessions.exists(session_id, owner):
            raise SessionNotFound(session_id)

    def clear_history(self, session_id: str, *, owner: str | None = None) -> None:
        """Delete every message of the session and set its count back to 0; the session stays."""
        check_id(session_id)
        with self.uow.write() as store:
            if not store.messages.clear(session_id, owner):
                raise SessionNotFound(session_id)

    def pop_last_message(
        self, session_id: str, *, owner: str | None = None, accept: Callable[[MessageRecord], bool] | None = None
    ) -> MessageRecord | None:
        """Remove and return the newest message (None when there is none); the count goes down with it. With
        `accept`, the message is removed only when accept(message) is true (run before the commit); else it
        stays and None is answered (an adapter never deletes a row it could not hand back)."""
        check_id(session_id)
        try:
            with self.uow.write() as store:
                # The session row locked first, as delete does: the count stays equal to the rows.
                reachable(store.sessions.get(session_id, for_update=True), session_id, owner)
                popped = store.messages.pop_newest(session_id)
                if popped is not None and accept is not None and not accept(popped):
                    raise _Kept
                return popped
        except _Kept:
            return None
