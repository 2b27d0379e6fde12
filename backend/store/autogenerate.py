"""Autogenerate tweaks, for alembic/env.py only: importing this registers an Alembic plugin."""

from __future__ import annotations

import sys

from alembic.runtime.plugins import Plugin, _all_plugins
from alembic.util import DispatchPriority, PriorityDispatchResult

PLUGIN_NAME = "backend.sqlite_text_primary_key"
AUTOGENERATE_PLUGINS = ["alembic.autogenerate.*", PLUGIN_NAME]


def _ignore_sqlite_text_primary_key_nullability(
    autogen_context, alter_column_op, schema, tname, cname, conn_col, metadata_col
):
    # SQLite lets a non-INTEGER PRIMARY KEY hold NULL (a historic quirk), so the legacy
    # `session_id TEXT PRIMARY KEY` reflects as nullable. That is not a change to make.
    if metadata_col.primary_key and conn_col.nullable and not metadata_col.nullable:
        alter_column_op.existing_nullable = False
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    """Register the comparators of this module (called by Plugin.setup_plugin_from_module)."""
    plugin.add_autogenerate_comparator(
        _ignore_sqlite_text_primary_key_nullability,
        "column",
        "nullable",
        qualifier="sqlite",
        priority=DispatchPriority.FIRST,
    )


if PLUGIN_NAME not in _all_plugins:
    Plugin.setup_plugin_from_module(sys.modules[__name__], PLUGIN_NAME)


# The search indexes of revision 0007, which models do not describe: SQLite's FTS5 table (and its shadow tables
# message_search_*), kept by triggers, and PostgreSQL's expression index, which Alembic cannot compare on SQLite.
SEARCH_INDEXES = frozenset({"message_search", "ix_chat_history_search"})


def include_object_for(dialect_name: str):
    """An include_object hook comparing an index declared with `.ddl_if(dialect=...)` only on that dialect."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if reflected and name in SEARCH_INDEXES or (type_ == "table" and name.startswith("message_search_")):
            return False
        if type_ == "index" and not reflected and obj._ddl_if is not None and obj._ddl_if.dialect:
            return obj._ddl_if.dialect == dialect_name
        return True

    return include_object
