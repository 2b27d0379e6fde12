"""The store as the services see it: one transaction at a time, its repositories, and what the database is.

    with uow.write() as store:                  # THE transaction: commit on success, rollback on error
        session = store.sessions.get(session_id)
        stored = store.messages.add(new_message)

A service knows repositories and this class, never a statement, a dialect or a driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection

from backend.store.disk_full import disk_full_mark
from backend.store.doorbell import Doorbell, doorbell
from backend.store.engines import sqlite_file
from backend.store.erasure import Scrubbed, scrub_sqlite
from backend.store.errors import StoreUnavailable
from backend.store.migrations import database_revision
from backend.store.repositories.context import ContextRepository
from backend.store.repositories.idempotency_keys import IdempotencyKeyRepository
from backend.store.repositories.messages import MessageRepository
from backend.store.repositories.owners import OwnerRepository
from backend.store.repositories.rewind import RewindRepository
from backend.store.repositories.search import SearchRepository
from backend.store.repositories.session_listing import SessionListing
from backend.store.repositories.sessions import SessionRepository
from backend.store.repositories.summaries import SummaryRepository
from backend.store.repositories.turn_leases import TurnLeaseRepository
from backend.store.repositories.turns import TurnRepository
from backend.store.transaction import Transaction, transaction

# A lease the readiness probe writes and deletes at once: no session can have this id (spaces at both ends).
PROBE_SESSION = " readiness probe "


class StoreTransaction(Transaction):
    """One open transaction and the repositories that run in it; `count_tokens`, the tokens of a message's
    content (given by the service), counted as each message is written."""

    __slots__ = ("count_tokens",)

    def __init__(
        self, engine: sa.Engine, pooled: PoolProxiedConnection, count_tokens: Callable[[str], int] | None = None
    ):
        super().__init__(engine, pooled)
        self.count_tokens = count_tokens

    @property
    def sessions(self) -> SessionRepository:
        """Sessions."""
        return SessionRepository(self)

    @property
    def listing(self) -> SessionListing:
        """Pages of the session listing."""
        return SessionListing(self)

    @property
    def messages(self) -> MessageRepository:
        """Messages, counted on their session."""
        return MessageRepository(self)

    @property
    def context(self) -> ContextRepository:
        """The context window's reads."""
        return ContextRepository(self)

    @property
    def rewind(self) -> RewindRepository:
        """Rewinds, and histories with what they superseded."""
        return RewindRepository(self)

    @property
    def summaries(self) -> SummaryRepository:
        """Summaries of conversations."""
        return SummaryRepository(self)

    @property
    def owners(self) -> OwnerRepository:
        """Everything of one owner, for export and erasure."""
        return OwnerRepository(self)

    @property
    def search(self) -> SearchRepository:
        """Search over message content."""
        return SearchRepository(self)

    @property
    def keys(self) -> IdempotencyKeyRepository:
        """Idempotency keys."""
        return IdempotencyKeyRepository(self)

    @property
    def leases(self) -> TurnLeaseRepository:
        """Turn leases."""
        return TurnLeaseRepository(self)

    @property
    def turns(self) -> TurnRepository:
        """Turns and the events they streamed."""
        return TurnRepository(self)


class UnitOfWork:
    """Opens the store's transactions on `engine`: `read()` and `write()`, each a StoreTransaction."""

    def __init__(self, engine: sa.Engine, *, count_tokens: Callable[[str], int] | None = None):
        self.engine = engine
        self._kind = partial(StoreTransaction, count_tokens=count_tokens) if count_tokens else StoreTransaction

    def read(self):
        """A read-only transaction."""
        return transaction(self.engine, write=False, kind=self._kind)

    def write(self, *, one_statement: bool = False):
        """A write transaction (SQLite's write lock taken up front); `one_statement` when it runs exactly one
        statement, which PostgreSQL then runs without BEGIN and COMMIT."""
        return transaction(self.engine, write=True, one_statement=one_statement, kind=self._kind)

    @property
    def cursor_key_types(self) -> tuple[type, ...]:
        """What a session's raw last_active may be, as a listing cursor keeps it: PostgreSQL holds only
        timestamps; a SQLite column also legacy text and numbers."""
        return (datetime,) if self.engine.dialect.name == "postgresql" else (str, int, float, datetime)

    def revision(self) -> str | None:
        """The migration the database is at (None when never migrated); StoreUnavailable when it cannot be read."""
        try:
            with self.read() as store:
                return database_revision(store.connection)
        except sa.exc.DBAPIError as exc:
            # Anything else the driver raises (e.g. a table missing) still means "not ready".
            raise StoreUnavailable("the database cannot be queried") from exc

    @property
    def doorbell(self) -> Doorbell:
        """Rings, and hears, the other processes of this host that use this database (store.doorbell)."""
        return doorbell(self.engine)

    def disk_full(self) -> bool:
        """Whether a write to this database was refused for lack of space, by any process of this host that uses
        it (backend.store.disk_full), and none has committed since."""
        return disk_full_mark(self.engine).is_set()

    def scrub(self, *, merge_search_index: bool = True) -> Scrubbed | None:
        """After an erase: remove from a SQLite file what it keeps of deleted rows (store.erasure); None for a
        server database."""
        return scrub_sqlite(self.engine, merge_search_index=merge_search_index)

    def write_succeeds(self) -> bool:
        """Whether one small write commits now (after a write was refused for lack of space)."""
        now = datetime.now(UTC)
        try:
            with self.write() as store:
                store.leases.take(PROBE_SESSION, "probe", now, now)
                store.leases.release(PROBE_SESSION, "probe")
        except StoreUnavailable:
            return False
        return True

    def free_disk_mb(self) -> float | None:
        """Free space (MB) on the filesystem of a SQLite database file; None for a server database."""
        path = self._sqlite_file()
        if path is None:
            return None
        stats = os.statvfs(path.parent)
        return stats.f_bavail * stats.f_frsize / (1024 * 1024)

    def file_writable(self) -> bool:
        """False when this process may not write a SQLite file or create its -wal/-shm files beside it."""
        path = self._sqlite_file()
        if path is None:
            return True
        return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)

    def _sqlite_file(self) -> Path | None:
        database = sqlite_file(self.engine.url)
        return None if database is None else Path(database)
