"""Alembic, as the store uses it: the project's configuration, upgrading, and revisions."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from backend.settings import PROJECT_ROOT


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
