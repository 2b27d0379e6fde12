"""Rows <-> records, derived from the models' tables: fields match columns by name, values go
through each column's own type, so a field added to a model and its record needs nothing here."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Generic, TypeVar

import sqlalchemy as sa

R = TypeVar("R")


class RecordMapping(Generic[R]):
    """How rows of `table` become `record_type` records: one column per record field, by name."""

    def __init__(self, record_type: type[R], table: sa.Table):
        self.record_type = record_type
        self.columns = tuple(table.c[f.name] for f in dataclasses.fields(record_type))
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
        return self.record_type(*[value if read is None else read(value) for read, value in zip(self.readers(dialect), row)])

    def from_stored(self, values: dict[str, Any], dialect: sa.Dialect) -> R:
        """A record from the values just written, in stored form, read as a later SELECT would read them."""
        return self.from_driver_row([values[column.name] for column in self.columns], dialect)

    def from_result_row(self, row) -> R:
        """A record from a Core result row of select()'s columns (already converted by SQLAlchemy)."""
        return self.record_type(*row[: len(self.columns)])
