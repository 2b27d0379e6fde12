"""Readiness: the database answers, its schema is at the newest migration, and it can take writes."""

from __future__ import annotations

import functools

from backend.services.errors import StoreUnavailable
from backend.store.errors import DISK_FULL_REASON
from backend.store.migrations import head_revision
from backend.store.unit_of_work import UnitOfWork

MIGRATE = "run `session-store migrate` (`alembic upgrade head` in the checkout)"


@functools.cache
def _head() -> str:
    # Reading the migration scripts costs milliseconds; they do not change while a process runs.
    return head_revision()


def check_agent_capacity(gate) -> None:
    """StoreUnavailable (not ready) while agent calls past their deadline hold slots of this worker."""
    hung = gate.hung()
    if hung:
        raise StoreUnavailable(
            f"{hung} of this worker's {gate.limit} agent calls are hung past their deadline and hold their slots"
        )


def check_ready(uow: UnitOfWork, min_free_disk_mb: float = 0.0) -> str:
    """The database's revision when it is reachable, at head and writable with room to spare; StoreUnavailable
    with the reason otherwise."""
    current = uow.revision()
    if current is None:
        raise StoreUnavailable(f"the database has not been migrated: {MIGRATE}")
    if current != _head():
        raise StoreUnavailable(f"the database is at revision {current}, not {_head()}: {MIGRATE}")
    if not uow.file_writable():
        # Reads still work then, but every write answers 503: not ready.
        raise StoreUnavailable("the database file or its directory is read-only")
    # After a write was refused for lack of space (in any worker), only a probe that commits says there is room.
    if uow.disk_full() and not uow.write_succeeds():
        raise StoreUnavailable(DISK_FULL_REASON.split(":")[0] + ": writes are refused until space is freed")
    free_mb = uow.free_disk_mb()
    if free_mb is not None and free_mb < min_free_disk_mb:
        raise StoreUnavailable(
            f"free space on the database's filesystem is {free_mb:.1f} MB, "
            f"below MIN_FREE_DISK_MB ({min_free_disk_mb:g} MB)"
        )
    return current
