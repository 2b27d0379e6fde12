"""Moving a deployment from one SQLite file to PostgreSQL (the operator's copy-to-postgres)."""

from __future__ import annotations

from backend.store.transfer import LIVE_SOURCE_PROBE_S, CopyReport, Progress
from backend.store.transfer import copy_sqlite_to_postgres as _copy


def copy_sqlite_to_postgres(
    sqlite_path: str, target_url: str, progress: Progress | None = None, probe_s: float = LIVE_SOURCE_PROBE_S
) -> CopyReport:
    """Copy every row of the SQLite file into an empty PostgreSQL database (migrated to head first), keeping
    every id, time and count. Refused (InvalidInput, nothing committed) when the target is not PostgreSQL,
    holds sessions already, or when something writes the source before or during the copy."""
    return _copy(sqlite_path, target_url, progress, probe_s)
