"""Alembic, as the store uses it: the project's revisions, upgrading, and revision numbers."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from backend.settings import PROJECT_ROOT

# The revisions' one source is the checkout's alembic/ (what alembic.ini names); an installed package carries the
# same files as backend/_migrations (pyproject.toml maps that package to alembic/).
CHECKOUT_SCRIPTS = PROJECT_ROOT / "alembic"


def script_location() -> Path:
    """The directory of env.py and versions/: the checkout's alembic/ when there is one, else the installed copy."""
    if (CHECKOUT_SCRIPTS / "env.py").is_file():
        return CHECKOUT_SCRIPTS
    return Path(str(resources.files("backend") / "_migrations"))


def alembic_config(engine=None, progress=None) -> Config:
    """The project's Alembic configuration, built in code (an installed package has no alembic.ini), optionally bound
    to an engine instead of the configured URL; `progress(done, total, label)` is told of a long migration's steps."""
    config = Config()
    # The value goes through ConfigParser interpolation: a % in the path must be doubled.
    config.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["configure_logger"] = False
    if engine is not None:
        config.attributes["engine"] = engine
    if progress is not None:
        config.attributes["progress"] = progress
    return config


def upgrade_to_head(engine, progress=None) -> None:
    """Apply every migration to the database of `engine` (`progress` as alembic_config takes it)."""
    command.upgrade(alembic_config(engine, progress), "head")


def head_revision() -> str:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def database_revision(connection) -> str | None:
    """The revision the database is at, None when it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()
