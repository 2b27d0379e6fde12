"""pytest-alembic fixtures: an empty database of each kind, and the project's Alembic config."""

import pytest
import sqlalchemy as sa

from backend.store.engines import create_engine
from backend.store.migrations import alembic_config as project_alembic_config
from tests.databases import postgres_url_or_skip, url_with_schema


@pytest.fixture
def alembic_config():
    """The configuration upgrade_to_head uses, built in code as an installed package builds it (no alembic.ini)."""
    from pytest_alembic.config import Config

    return Config(alembic_config=project_alembic_config())


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
