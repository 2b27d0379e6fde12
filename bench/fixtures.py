"""Benchmark databases: migrated to head, then filled fast through the raw driver."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from backend.models.types import STORED_TIMESTAMP_FORMAT
from backend.store.engines import create_engine, dispose_engine
from backend.store.migrations import upgrade_to_head


class BenchDatabase:
    """A fresh database (SQLite file or PostgreSQL schema) at head."""

    def __init__(self, kind: str, workdir: Path, postgres_url: str | None):
        self.kind = kind
        if kind == "sqlite":
            path = workdir / f"bench-{secrets.token_hex(3)}.db"
            self.url, self._path, self._schema = f"sqlite:///{path}", path, None
        else:
            self._schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
            base = sa.make_url(postgres_url)
            _admin(postgres_url, f'CREATE SCHEMA "{self._schema}"')
            self._base_url = postgres_url
            self.url = base.update_query_dict({"options": f"-csearch_path={self._schema}"}).render_as_string(False)
        self.engine = create_engine(self.url)
        upgrade_to_head(self.engine)

    def fill(self, sessions: list[tuple[str, datetime]], messages_per_session: dict[str, int]) -> None:
        """Insert sessions (id, last_active) and `n` messages for each id in messages_per_session."""
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            if self.kind == "sqlite":
                self._fill_sqlite(raw, sessions, messages_per_session)
            else:
                self._fill_postgres(raw, sessions, messages_per_session)
        if self.kind == "postgresql":
            with self.engine.connect() as conn:
                conn.connection.driver_connection.autocommit = True
                conn.exec_driver_sql("ANALYZE")

    @staticmethod
    def _message_rows(messages_per_session, base):
        for session_id, count in messages_per_session.items():
            for i in range(count):
                yield (
                    session_id,
                    "user" if i % 2 == 0 else "assistant",
                    f"message {i}",
                    base + timedelta(microseconds=i),
                )

    def _fill_sqlite(self, raw, sessions, messages_per_session):
        base = datetime(2026, 1, 1)
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(
            "INSERT INTO sessions (session_id, created_at, last_active, message_count, metadata) VALUES (?, ?, "
            "?, 0, '{}')",
            (
                (sid, active.strftime(STORED_TIMESTAMP_FORMAT), active.strftime(STORED_TIMESTAMP_FORMAT))
                for sid, active in sessions
            ),
        )
        raw.executemany(
            "INSERT INTO chat_history (session_id, role, content, timestamp) VALUES (?, ?, ?, ?)",
            (
                (sid, role, content, ts.strftime(STORED_TIMESTAMP_FORMAT))
                for sid, role, content, ts in self._message_rows(messages_per_session, base)
            ),
        )
        raw.executemany(
            "UPDATE sessions SET message_count = ? WHERE session_id = ?",
            ((n, sid) for sid, n in messages_per_session.items()),
        )
        raw.execute("COMMIT")
        raw.execute("ANALYZE")

    def _fill_postgres(self, raw, sessions, messages_per_session):
        base = datetime(2026, 1, 1)
        with raw.cursor() as cur:
            with cur.copy(
                "COPY sessions (session_id, created_at, last_active, message_count, metadata) FROM STDIN"
            ) as copy:
                for sid, active in sessions:
                    copy.write_row((sid, active.replace(tzinfo=None), active.replace(tzinfo=None), 0, "{}"))
            with cur.copy("COPY chat_history (session_id, role, content, timestamp) FROM STDIN") as copy:
                for row in self._message_rows(messages_per_session, base):
                    copy.write_row(row)
            for sid, n in messages_per_session.items():
                cur.execute("UPDATE sessions SET message_count = %s WHERE session_id = %s", (n, sid))
        raw.commit()

    def drop(self) -> None:
        """Remove the database."""
        self.engine.dispose()
        dispose_engine(self.url)
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)
        else:
            _admin(self._base_url, f'DROP SCHEMA "{self._schema}" CASCADE')


def _admin(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def session_ids(prefix: str, count: int, newest: datetime, spacing: timedelta = timedelta(seconds=1)):
    """`count` (id, last_active) pairs, the newest first."""
    return [(f"{prefix}-{i:08d}", newest - i * spacing) for i in range(count)]


NOW = datetime.now(UTC)
