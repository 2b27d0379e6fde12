"""Owners for legacy sessions: an operator's CSV of `session_id,owner` or `device_fingerprint,owner` rows."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

import sqlalchemy as sa

from backend.services.errors import InvalidInput
from backend.services.validation import Problems, check_lookup_id, check_owner
from backend.settings import Limits
from backend.store.unit_of_work import UnitOfWork

KEYS = ("session_id", "device_fingerprint")
BATCH_ROWS = 500


@dataclass
class AssignmentReport:
    """What an assignment did: rows read, rows that matched a session without an owner, sessions given an
    owner, and the rows that matched none (line number, key) or were refused (line number, why)."""

    key: str
    rows: int = 0
    matched_rows: int = 0
    sessions_assigned: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def read_assignments(stream: TextIO) -> tuple[str, Iterable[tuple[int, str, str]]]:
    """The key column named by the header (`session_id,owner` or `device_fingerprint,owner`) and the
    (line number, key, owner) rows after it."""
    reader = csv.reader(stream)
    header = [name.strip() for name in next(reader, [])]
    if len(header) != 2 or header[0] not in KEYS or header[1] != "owner":
        raise InvalidInput({"header": ["must be session_id,owner or device_fingerprint,owner"]})
    return header[0], ((reader.line_num, *row) if len(row) == 2 else (reader.line_num, None, None) for row in reader)


def assign_owners(
    engine: sa.Engine, limits: Limits, key: str, rows: Iterable[tuple[int, str, str]], batch_rows: int = BATCH_ROWS
) -> AssignmentReport:
    """Give each session that has no owner the owner of its row; one short transaction per batch of rows.
    A session that already has an owner keeps it (the row counts as unmatched)."""
    report = AssignmentReport(key)
    uow = UnitOfWork(engine)
    batch: list[tuple[int, str, str]] = []

    def flush() -> None:
        with uow.write() as store:
            for line, value, owner in batch:
                assigned = store.sessions.assign_owner(key, value, owner)
                report.sessions_assigned += assigned
                if assigned:
                    report.matched_rows += 1
                else:
                    report.unmatched.append((line, value))
        batch.clear()

    for line, value, owner in rows:
        report.rows += 1
        problems = Problems()
        check_lookup_id(problems, value, limits, key)
        check_owner(problems, owner, limits)
        if owner is None:
            problems.add("owner", "must be given")
        if problems.errors:
            report.refused.append((line, "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(problems.errors.items()))))
            continue
        batch.append((line, value, owner))
        if len(batch) >= batch_rows:
            flush()
    if batch:
        flush()
    return report
