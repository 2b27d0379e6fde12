"""Copy a SQLite session store into PostgreSQL, keeping every id, time and count."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg

from backend.models import Base
from backend.models.types import MetadataJSON, UTCTimestamp, parse_timestamp, take_unreadable
from backend.store.engines import create_engine
from backend.store.errors import InvalidInput
from backend.store.migrations import upgrade_to_head
from backend.store.sql import messages, sessions

BATCH = 5000
LIVE_SOURCE_PROBE_S = 1.0  # how long the source is watched for writes before copying

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in the table)
BEING_WRITTEN = "is being written to (is the server still running?); stop whatever writes it, then copy again"


@dataclass
class CopyReport:
    """What was copied (rows by table), and every value that could not be carried over as it was."""

    sessions: int = 0
    messages: int = 0
    id_sequence: int = 0
    rows: dict[str, int] = field(default_factory=dict)
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


def _boolean(value, where: str, report: CopyReport):
    return None if value is None else bool(value)  # SQLite keeps 0 and 1; PostgreSQL refuses an integer


# How a column's legacy value becomes what PostgreSQL stores, by the column's type.
_CONVERTERS = {UTCTimestamp: _naive_utc, MetadataJSON: _json_text, sa.Boolean: _boolean}
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
                "SELECT " + " OR ".join(f"EXISTS (SELECT 1 FROM {table.name})" for table in Base.metadata.sorted_tables)
            ).scalar():
                raise InvalidInput({"target": ["already holds data; copy only into an empty database"]})
            cursor = conn.connection.driver_connection.cursor()
            for table in copied_tables(source):  # sessions before the messages that refer to them
                report.rows[table.name] = _copy_table(source, cursor, table, report, progress)
                if table is sessions:
                    _create_sessions_for_orphans(source, cursor, report)
                _continue_id_sequence(source, cursor, table, report)
            report.sessions, report.messages = report.rows[sessions.name], report.rows[messages.name]
            if _data_version(source) != version:  # raised inside the transaction: nothing is committed
                raise InvalidInput({"source": [BEING_WRITTEN]})
    finally:
        source.close()
        target.dispose()
    return report


def copied_tables(source: sqlite3.Connection, metadata: sa.MetaData = Base.metadata) -> list[sa.Table]:
    """The tables to copy, in the order their references need: every table of the models that the source holds
    as an ordinary table. A derived table (`info={"derived": True}`, such as a search index) or one the source
    holds as a virtual table (SQLite FTS5) is left out: the target's migrations build its own from the rows."""
    ordinary = {
        name
        for name, sql in source.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        if not (sql or "").upper().startswith("CREATE VIRTUAL TABLE")
    }
    return [t for t in metadata.sorted_tables if t.name in ordinary and not t.info.get("derived")]


def _copy_table(source, cursor, table: sa.Table, report: CopyReport, progress: Progress | None = None) -> int:
    """Every row of `table`, each column converted by its type; returns the rows copied. A column the source
    does not have yet (a legacy file, or one at an older revision) is left to its default."""
    keys = [column.name for column in table.primary_key.columns]
    present = {row[1] for row in source.execute(f"PRAGMA table_info({table.name})")}
    names = [column.name for column in table.c if column.name in present]
    convert = {column.name: _converter(column) for column in table.c}
    insert = table.insert().compile(dialect=_TARGET_DIALECT, column_keys=names).string
    total = source.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0] if progress else 0
    rows = source.execute(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY {', '.join(keys)}")
    copied = 0
    while batch := rows.fetchmany(BATCH):
        values = []
        for row in batch:
            record = dict(zip(names, row, strict=True))
            where = f"{table.name}[{','.join(str(record[key]) for key in keys)}]"
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


def _converter(column: sa.Column):
    return next((convert for kind, convert in _CONVERTERS.items() if isinstance(column.type, kind)), None)


def _create_sessions_for_orphans(source, cursor, report: CopyReport) -> None:
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


def _continue_id_sequence(source, cursor, table: sa.Table, report: CopyReport) -> None:
    """New ids of a table with generated ids start above every id the source ever gave (its sqlite_sequence
    remembers deleted ones too), so that none is reused."""
    key = table.autoincrement_column
    if key is None:
        return
    used = source.execute(f"SELECT max({key.name}) FROM {table.name}").fetchone()[0] or 0
    if source.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        given = source.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)).fetchone()
        used = max(used, given[0] if given else 0)
    if table is messages:
        report.id_sequence = used
    if used:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key.name}'), %s)", (used,))
