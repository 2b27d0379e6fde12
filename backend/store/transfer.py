"""Copy a SQLite session store into PostgreSQL, keeping every id, time and count."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg

from backend.models.types import MetadataJSON, UTCTimestamp, parse_timestamp, take_unreadable
from backend.store.engines import create_engine
from backend.store.errors import InvalidInput
from backend.store.migrations import upgrade_to_head
from backend.store.sql import messages, sessions, summaries

BATCH = 5000
LIVE_SOURCE_PROBE_S = 1.0  # how long the source is watched for writes before copying

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in the table)
BEING_WRITTEN = "is being written to (is the server still running?); stop whatever writes it, then copy again"


@dataclass
class CopyReport:
    """What was copied, and every value that could not be carried over as it was."""

    sessions: int = 0
    messages: int = 0
    id_sequence: int = 0
    unreadable_timestamps: list[str] = field(default_factory=list)
    non_json_metadata: list[str] = field(default_factory=list)
    sessions_created_for_orphans: list[str] = field(default_factory=list)


def _naive_utc(value, where: str, report: CopyReport):
    if value is None:
        return None
    parsed = parse_timestamp(value)
    take_unreadable()  # named in the report instead of logged
    if parsed is None:
        report.unreadable_timestamps.append(where)
        return None
    return parsed.replace(tzinfo=None)


def _json_text(value, where: str, report: CopyReport):
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        report.non_json_metadata.append(where)
        return None
    return text


# How a column's legacy value becomes what PostgreSQL stores, by the column's type.
_CONVERTERS = {UTCTimestamp: _naive_utc, MetadataJSON: _json_text}
_TARGET_DIALECT = psycopg.dialect()


def _data_version(source: sqlite3.Connection) -> int:
    # Changes whenever another connection commits to the file (SQLite's PRAGMA data_version).
    return source.execute("PRAGMA data_version").fetchone()[0]


def copy_sqlite_to_postgres(
    sqlite_path: str, target_url: str, progress: Progress | None = None, probe_s: float = LIVE_SOURCE_PROBE_S
) -> CopyReport:
    """Copy every row of the SQLite file into an empty PostgreSQL database (migrated to head first).

    Refused (InvalidInput, nothing committed) when something writes the source before or during
    the copy: rows written after it began would be left behind.
    """
    target = create_engine(target_url)
    if target.dialect.name != "postgresql":
        raise InvalidInput({"target": ["must be a postgresql:// URL"]})
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    report = CopyReport()
    try:
        version = _data_version(source)
        time.sleep(probe_s)
        if _data_version(source) != version:
            raise InvalidInput({"source": [BEING_WRITTEN]})
        upgrade_to_head(target)
        with target.begin() as conn:
            if conn.exec_driver_sql(
                "SELECT EXISTS (SELECT 1 FROM sessions) OR EXISTS (SELECT 1 FROM chat_history)"
            ).scalar():
                raise InvalidInput({"target": ["already holds sessions; copy only into an empty database"]})
            cursor = conn.connection.driver_connection.cursor()
            _copy_sessions(source, cursor, report, progress)
            _copy_messages(source, cursor, report, progress)
            if source.execute("SELECT 1 FROM sqlite_master WHERE name = 'summaries'").fetchone():
                _copy_table(source, cursor, summaries, report, progress)
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('summaries', 'id'), coalesce(max(id), 0) + 1, false) "
                    "FROM summaries"
                )
            sequence = source.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chat_history'").fetchone()
            report.id_sequence = max(sequence[0] if sequence else 0, report.id_sequence)
            if report.id_sequence:
                cursor.execute("SELECT setval(pg_get_serial_sequence('chat_history', 'id'), %s)", (report.id_sequence,))
            if _data_version(source) != version:  # raised inside the transaction: nothing is committed
                raise InvalidInput({"source": [BEING_WRITTEN]})
    finally:
        source.close()
        target.dispose()
    return report


def _copy_table(source, cursor, table: sa.Table, report: CopyReport, progress: Progress | None = None) -> int:
    """Every row of `table`, each column converted by its type; returns the rows copied. A column the source
    does not have yet (a legacy file, or one at an older revision) is left to its default: NULL."""
    key = table.primary_key.columns[0].name
    present = {row[1] for row in source.execute(f"PRAGMA table_info({table.name})")}
    names = [column.name for column in table.c if column.name in present]
    convert = {column.name: _CONVERTERS.get(type(column.type)) for column in table.c}
    insert = table.insert().compile(dialect=_TARGET_DIALECT, column_keys=names).string
    total = source.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0] if progress else 0
    rows = source.execute(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY {key}")
    copied = 0
    while batch := rows.fetchmany(BATCH):
        values = []
        for row in batch:
            record = dict(zip(names, row, strict=True))
            where = f"{table.name}[{record[key]}]"
            values.append(
                {
                    name: value if convert[name] is None else convert[name](value, f"{where}.{name}", report)
                    for name, value in record.items()
                }
            )
        cursor.executemany(insert, values)
        copied += len(batch)
        if progress:
            progress(table.name, copied, max(total, copied))
    return copied


def _copy_sessions(source, cursor, report: CopyReport, progress: Progress | None) -> None:
    report.sessions += _copy_table(source, cursor, sessions, report, progress)
    orphans = source.execute(
        "SELECT DISTINCT session_id FROM chat_history WHERE session_id NOT IN (SELECT session_id FROM sessions)"
    ).fetchall()
    for (sid,) in orphans:
        # The FK is enforced on PostgreSQL: give the orphaned messages an empty session row.
        cursor.execute(
            "INSERT INTO sessions (session_id, created_at, last_active, message_count) VALUES (%s, NULL, NULL, NULL)",
            (sid,),
        )
        report.sessions_created_for_orphans.append(sid)


def _copy_messages(source, cursor, report: CopyReport, progress: Progress | None) -> None:
    report.messages += _copy_table(source, cursor, messages, report, progress)
    last = source.execute("SELECT max(id) FROM chat_history").fetchone()[0]
    report.id_sequence = max(report.id_sequence, last or 0)
