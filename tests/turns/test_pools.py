"""On PostgreSQL a worker's turns have connections of their own, fewer than its requests': a burst of turns runs
few transactions at once and never takes the connection a history read or a resume needs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend import create_app, settings
from backend.extensions import EXTENSION_KEY, turn_pool_size


@pytest.mark.parametrize(("pool_size", "turns"), [(10, 2), (20, 4), (9, 1), (5, 1), (1, 1)])
def test_turns_keep_a_fifth_of_the_request_connections_and_at_least_one(pool_size, turns):
    assert turn_pool_size(pool_size) == turns


def test_a_worker_keeps_its_requests_turns_and_journal_connections_apart(postgres_schema):
    # A URL of this test's own: engines are kept per process, URL and purpose.
    url = sa.make_url(postgres_schema.url).update_query_dict({"application_name": "pools-test"})
    url = url.render_as_string(hide_password=False)
    config = settings.TestingConfig(DATABASE_URL=url, POSTGRES_POOL_SIZE=10, CHAT_AGENT=None, CHAT_AGENT_URL=None)
    services = create_app(config).extensions[EXTENSION_KEY].for_this_process()

    requests, turns = services.sessions.engine, services.chat.sessions.engine
    journal = services.chat.journal.uow.engine
    assert (requests.pool.size(), turns.pool.size(), journal.pool.size()) == (10, 2, 1)
    assert len({id(requests), id(turns), id(journal)}) == 3
