"""Fixtures of the API tests: an app over the test's database, hermetic against the environment."""

from __future__ import annotations

import pytest

from backend import create_app
from backend.settings import TestingConfig
from tests.rows import row_counts

ADMIN_TOKEN = "operator-token-0123456789"
# Settings that would otherwise come from the environment: every API test starts from these.
HERMETIC = {
    "ADMIN_TOKEN": None,
    "CORS_ORIGINS": (),
    "CHAT_AGENT": None,
    "CHAT_AGENT_URL": None,
    "AUTH_MODE": "none",
    "JWT_SECRET": None,
    "JWT_PUBLIC_KEY": None,
    "JWT_JWKS_URL": None,
    "JWT_AUDIENCE": None,
    "JWT_ISSUER": None,
    "RATE_LIMIT_READS": None,
    "RATE_LIMIT_WRITES": None,
    "RATE_LIMIT_TURNS": None,
    "RATE_LIMIT_STORAGE_URL": None,
}


@pytest.fixture
def make_app(database_url):
    """Build an app on this test's database; keyword arguments override settings."""

    def make(**settings):
        return create_app(TestingConfig(DATABASE_URL=database_url, **{**HERMETIC, **settings}))

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
    return lambda: row_counts(service.engine)
