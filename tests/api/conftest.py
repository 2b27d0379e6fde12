"""Fixtures of the API tests: an app over the test's database, hermetic against the environment."""

from __future__ import annotations

import pytest

from backend import create_app
from config.settings import TestingConfig

ADMIN_TOKEN = "operator-token-0123456789"


@pytest.fixture
def make_app(database_url):
    """Build an app on this test's database; keyword arguments override settings."""

    def make(**settings):
        defaults = {"ADMIN_TOKEN": None, "CORS_ORIGINS": (), "CHAT_AGENT": None, "CHAT_AGENT_URL": None}
        return create_app(TestingConfig(DATABASE_URL=database_url, **{**defaults, **settings}))

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin_client(make_app):
    return make_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client()


@pytest.fixture
def stored(service):
    """Counts of what the database holds: (sessions, messages)."""

    def count():
        from backend.services import queries as q
        import sqlalchemy as sa

        with service.engine.connect() as conn:
            sessions = conn.execute(sa.select(sa.func.count()).select_from(q.sessions)).scalar_one()
            messages = conn.execute(sa.select(sa.func.count()).select_from(q.messages)).scalar_one()
        return sessions, messages

    return count
