"""Fixtures: every test that takes `database_url` runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy.orm as so

from backend.db import get_engine
from backend.services.session import SessionService
from tests import factories
from tests.databases import PostgresSchema, SqliteTemplate, postgres_url_or_skip


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    return SqliteTemplate(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_schema():
    schema = PostgresSchema(postgres_url_or_skip())
    yield schema
    schema.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A migrated, empty database of each kind, private to the test."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_template").copy_to(tmp_path / "sessions.db")
        return
    schema = request.getfixturevalue("postgres_schema")
    schema.empty()
    yield schema.url


@pytest.fixture
def engine(database_url):
    return get_engine(database_url)


@pytest.fixture
def service(database_url):
    return SessionService(database_url)


@pytest.fixture
def db(engine):
    """An ORM unit of work for factories; each factory call commits."""
    with so.Session(engine, expire_on_commit=False) as orm_session:
        factories.bind(orm_session)
        yield orm_session
        factories.bind(None)
