"""Read the whole store directly (not through the API) and check it against what clients were told."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from backend.store.engines import create_engine


@dataclass
class Findings:
    """What the store holds, and every way it disagrees with the acknowledgements."""

    rows: int
    sessions: int
    acknowledged_found: int
    missing: list[int]
    altered: list[int]
    duplicated: list[str]
    count_drift: dict[str, tuple[int, int]]  # session -> (message_count, rows)
    orphans: int

    def figures(self) -> dict:
        """The findings as numbers for the report."""
        return {
            "rows_found": self.rows,
            "sessions_found": self.sessions,
            "acknowledged_found_once": self.acknowledged_found,
            "missing": len(self.missing),
            "duplicated": len(self.duplicated),
            "count_drift": len(self.count_drift),
        }

    def assert_consistent(self) -> None:
        """Every acknowledged message stored once and unaltered; every count equal to its rows."""
        assert not self.missing, f"acknowledged but not stored: {self.missing[:20]}"
        assert not self.altered, f"stored differently from the acknowledgement: {self.altered[:20]}"
        assert not self.duplicated, f"stored more than once: {self.duplicated[:20]}"
        assert not self.count_drift, f"message_count != rows: {dict(list(self.count_drift.items())[:20])}"
        assert not self.orphans, f"{self.orphans} messages without a session"


def inspect_store(database_url: str, acknowledged: dict[int, tuple[str, str]]) -> Findings:
    """Compare every row with the acknowledgements (message id -> (session id, content))."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, session_id, content FROM chat_history").all()
            counts = dict(conn.exec_driver_sql("SELECT session_id, COALESCE(message_count, 0) FROM sessions").all())
    finally:
        engine.dispose()
    by_id = {row[0]: (row[1], row[2]) for row in rows}
    per_content = Counter((row[1], row[2]) for row in rows)
    per_session = Counter(row[1] for row in rows)
    missing = [mid for mid in acknowledged if mid not in by_id]
    altered = [mid for mid, value in acknowledged.items() if mid in by_id and by_id[mid] != value]
    duplicated = [content for (_, content), n in per_content.items() if n > 1]
    drift = {sid: (count, per_session.get(sid, 0)) for sid, count in counts.items() if count != per_session.get(sid, 0)}
    return Findings(
        rows=len(rows),
        sessions=len(counts),
        acknowledged_found=sum(
            1 for mid, value in acknowledged.items() if by_id.get(mid) == value and per_content[value] == 1
        ),
        missing=missing,
        altered=altered,
        duplicated=duplicated,
        count_drift=drift,
        orphans=sum(n for sid, n in per_session.items() if sid not in counts),
    )


def sqlite_integrity(database_url: str) -> str:
    """PRAGMA integrity_check of a SQLite database ('ok' when sound)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return "\n".join(row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check").all())
    finally:
        engine.dispose()
