"""Rows <-> records, derived from the models' tables: fields match columns by name, values go
through each column's own type, so a field added to a model and its record needs nothing here."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from backend.models.types import take_unreadable, unreadable
from backend.observability.logs import session_ref

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
        self._converters: dict[str, Callable[[Any], R]] = {}

    def select(self) -> sa.Select:
        """SELECT of the record's columns, in the record's field order."""
        return sa.select(*self.columns)

    def converter(self, dialect: sa.Dialect) -> Callable[[Any], R]:
        """A function making a record of a driver row, built once per dialect from the columns' types."""
        convert = self._converters.get(dialect.name)
        if convert is None:
            convert = self._converters[dialect.name] = _compile(self.record_type, self.columns, dialect, self._warn)
        return convert

    def from_driver_row(self, row, dialect: sa.Dialect) -> R:
        """A record from a driver row of select()'s columns (values as the database holds them)."""
        return self.converter(dialect)(row)

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
        """A legacy value of `record` was read leniently: say which row holds it, once per row and process."""
        problems = take_unreadable()
        key = (self.table_name, getattr(record, self._key))
        if key in _warned:
            return
        if len(_warned) >= _MAX_WARNED:
            _warned.clear()
        _warned.add(key)
        # A sessions row is keyed by its session id, named in logs by its reference (a credential in none mode).
        row = session_ref(str(key[1])) if self.table_name == "sessions" else key[1]
        log.warning(
            "legacy value in %s row %r: %s",
            self.table_name,
            row,
            "; ".join(problems),
            extra={"event": "legacy_value", "table": self.table_name, "row": row},
        )


def _reader(column: sa.Column, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """The column type's result processor; a type's plain `reader` function where its dialect type has none
    (the same conversion, without the generic wrapper: this runs for every value of every row read)."""
    column_type = column.type
    reader = getattr(column_type, "reader", None)
    if reader is not None and isinstance(column_type, TypeDecorator):
        if column_type.load_dialect_impl(dialect).result_processor(dialect, None) is None:
            return reader
    return column_type.dialect_impl(dialect).result_processor(dialect, None)


def _compile(
    record_type: type, columns: tuple[sa.Column, ...], dialect: sa.Dialect, warn: Callable[[Any], None]
) -> Callable[[Any], Any]:
    # Generated once, like dataclasses' own __init__: the generic per-value loop cost ~23% of a 50-message read.
    # A reader notes a legacy value it read leniently; `warn` then names the row.
    readers = [_reader(column, dialect) for column in columns]
    namespace: dict[str, Any] = {"record": record_type, "unreadable": unreadable, "warn": warn}
    arguments = []
    for i, reader in enumerate(readers):
        if reader is None:
            arguments.append(f"row[{i}]")
        else:
            namespace[f"read{i}"] = reader
            arguments.append(f"read{i}(row[{i}])")
    source = (
        f"def convert(row):\n    made = record({', '.join(arguments)})\n"
        "    if unreadable.values:\n        warn(made)\n    return made"
    )
    exec(source, namespace)  # noqa: S102 - our own text
    return namespace["convert"]
