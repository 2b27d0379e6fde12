"""Rows <-> records, derived from the models' tables: fields match columns by name, values go
through each column's own type, so a field added to a model and its record needs nothing here."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Generic, TypeVar

import sqlalchemy as sa

from backend.models.types import take_unreadable, unreadable

log = logging.getLogger(__name__)
# Rows already warned about, per process: a legacy row read on every request warns once, not each time.
_warned: set[tuple[str, Any]] = set()
_MAX_WARNED = 100_000

R = TypeVar("R")


class RecordMapping(Generic[R]):
    """How rows of `table` become `record_type` records: one column per record field, by name."""

    def __init__(self, record_type: type[R], table: sa.Table):
        self.record_type = record_type
        self.columns = tuple(table.c[f.name] for f in dataclasses.fields(record_type))
        self.table_name = table.name
        self._key = table.primary_key.columns[0].name
        self._readers: dict[str, tuple[Callable[[Any], Any] | None, ...]] = {}

    def select(self) -> sa.Select:
        """SELECT of the record's columns, in the record's field order."""
        return sa.select(*self.columns)

    def readers(self, dialect: sa.Dialect) -> tuple[Callable[[Any], Any] | None, ...]:
        """Each column's result processor for `dialect` (None where the driver's value is final)."""
        readers = self._readers.get(dialect.name)
        if readers is None:
            readers = self._readers[dialect.name] = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None) for column in self.columns
            )
        return readers

    def from_driver_row(self, row, dialect: sa.Dialect) -> R:
        """A record from a driver row of select()'s columns (values as the database holds them)."""
        record = self.record_type(*[value if read is None else read(value) for read, value in zip(self.readers(dialect), row)])
        if unreadable.values:  # a legacy value was read leniently: say which row holds it
            self._warn(record)
        return record

    def from_stored(self, values: dict[str, Any], dialect: sa.Dialect) -> R:
        """A record from the values just written, in stored form, read as a later SELECT would read them."""
        return self.from_driver_row([values[column.name] for column in self.columns], dialect)

    def from_result_row(self, row) -> R:
        """A record from a Core result row of select()'s columns (already converted by SQLAlchemy)."""
        record = self.record_type(*row[: len(self.columns)])
        if unreadable.values:
            self._warn(record)
        return record

    def _warn(self, record: R) -> None:
        problems = take_unreadable()
        key = (self.table_name, getattr(record, self._key))
        if key in _warned:
            return
        if len(_warned) >= _MAX_WARNED:
            _warned.clear()
        _warned.add(key)
        log.warning("legacy value in %s row %r: %s", self.table_name, key[1], "; ".join(problems),
                    extra={"event": "legacy_value", "table": self.table_name, "row": key[1]})
