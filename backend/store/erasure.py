"""What an erase leaves in a SQLite file, removed: the search index's old segments and the WAL's old frames.

Deleted rows themselves are overwritten with zeros (PRAGMA secure_delete, set on every connection). An FTS5
index forgets a row by writing a delete marker beside the old entry; both hold the row's words until the index's
segments are merged, which is done here a few hundred pages at a time, each step its own short transaction. The
WAL keeps earlier copies of the pages until a checkpoint truncates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter

import sqlalchemy as sa

from backend.store.transaction import transaction

MERGE_PAGES = 500  # pages of index written per step; a step holds the write lock for about that long
MAX_MERGE_STEPS = 100_000


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """What scrubbing did: index merge steps, and whether the WAL could be truncated (no reader held it)."""

    merge_steps: int
    longest_step_s: float  # the longest the write lock was held at once
    wal_truncated: bool


def scrub_sqlite(engine: sa.Engine, *, merge_search_index: bool = True) -> Scrubbed | None:
    """Merge the search index until no deleted entry is left in it (unless told no message was deleted), then
    checkpoint and truncate the WAL; None for a server database, whose rows are not in a file of ours."""
    if engine.dialect.name != "sqlite":
        return None
    steps, longest = 0, 0.0
    while merge_search_index and steps < MAX_MERGE_STEPS:
        started = perf_counter()
        with transaction(engine, write=True) as tx:
            driver = tx.connection.connection.driver_connection
            before = driver.total_changes
            # A negative page count merges every segment into one, as 'optimize' does, but in steps.
            driver.execute(f"INSERT INTO message_search(message_search, rank) VALUES ('merge', -{MERGE_PAGES})")
            changed = driver.total_changes - before
        steps, longest = steps + 1, max(longest, perf_counter() - started)
        # A step with nothing left to merge changes fewer than 2 rows (seen here; the rule FTS3/4's documentation
        # gives for its merge command). tests/operations checks that the erased words leave the file.
        if changed < 2:
            break
    with engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        connection.rollback()
    return Scrubbed(merge_steps=steps, longest_step_s=longest, wal_truncated=busy == 0)
