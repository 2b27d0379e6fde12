"""Alembic environment: the database comes from the app's configuration or from the caller."""

from logging.config import fileConfig

import sqlalchemy as sa

from alembic import context
from backend.models import Base
from backend.settings import database_url_from_env
from backend.store.autogenerate import AUTOGENERATE_PLUGINS, include_object_for
from backend.store.engines import create_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        autogenerate_plugins=AUTOGENERATE_PLUGINS,
        include_object=include_object_for(connection.dialect.name),
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Use a connection or engine handed in by the caller (tests), else the configured database."""
    handed_in = config.attributes.get("connection") or config.attributes.get("engine")
    if isinstance(handed_in, sa.Connection):
        run_migrations(handed_in)
        return
    engine = handed_in or create_engine(database_url_from_env())
    with engine.connect() as connection:
        run_migrations(connection)
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: run against a database")
run_online()
