"""Fixtures of the end-to-end tests: the database a server is started on."""

from __future__ import annotations

import pytest

from tests.servers import migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def operator_database(request, tmp_path):
    """An empty SQLite file path, or an emptied PostgreSQL schema, migrated as an operator would."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'sessions.db'}"
    else:
        schema = request.getfixturevalue("postgres_schema")
        schema.empty()
        url = schema.url
    migrate(url)
    return url
