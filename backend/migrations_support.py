"""Autogenerate tweaks shared by env.py and the migration tests."""

from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.runtime.plugins import Plugin, _all_plugins
from alembic.script import ScriptDirectory
from alembic.util import DispatchPriority, PriorityDispatchResult

from config.settings import PROJECT_ROOT

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


def include_object_for(dialect_name: str):
    """An include_object hook comparing an index declared with `.ddl_if(dialect=...)` only on that dialect."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "index" and not reflected and obj._ddl_if is not None and obj._ddl_if.dialect:
            return obj._ddl_if.dialect == dialect_name
        return True

    return include_object


def alembic_config(engine=None) -> Config:
    """The project's Alembic configuration, optionally bound to an engine instead of the configured URL."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine) -> None:
    """Apply every migration to the database of `engine`."""
    command.upgrade(alembic_config(engine), "head")


def head_revision() -> str:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def database_revision(connection) -> str | None:
    """The revision the database is at, None when it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()
