"""pytest-alembic fixtures: an empty database of each kind, and the project's Alembic config."""

import pytest
import sqlalchemy as sa

from backend.store.engines import create_engine
from tests.databases import postgres_url_or_skip, url_with_schema


@pytest.fixture
def alembic_config():
    from pytest_alembic.config import Config

    return Config(config_options={"file": "alembic.ini", "configure_logger": False})


@pytest.fixture(params=["sqlite", "postgresql"])
def alembic_engine(request, tmp_path):
    """An empty database that pytest-alembic migrates up and down."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    base_url = postgres_url_or_skip()
    schema = f"migrations_{tmp_path.name[-20:]}".replace("-", "_").lower()
    admin = sa.create_engine(base_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    engine = create_engine(url_with_schema(base_url, schema))
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()
