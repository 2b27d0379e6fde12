"""Fixtures: every test that takes `database_url` runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import os

import pytest

# prometheus_client picks its value class when first imported: before any test loads
# config/gunicorn.conf.py, which sets PROMETHEUS_MULTIPROC_DIR.
import backend.observability.metrics  # noqa: F401
from backend.services.session import SessionService
from backend.store.engines import get_engine
from tests import factories
from tests.databases import POSTGRES_MISSING, PostgresSchema, SqliteTemplate, postgres_url_or_skip
from tests.servers import Server, migrate

_LEFT_OUT = pytest.StashKey[int]()


@pytest.fixture(autouse=True)
def no_turn_outlives_its_test():
    """Turns go on after their client left: any still running in this process when a test ends is stopped (and
    waited for), so that it never writes into the next test's database."""
    yield
    from backend.services.turns.journal import RUNNING

    for turn in list(RUNNING.values()):
        turn.request_stop(None)
        turn.wait(10)


@pytest.fixture
def launch(tmp_path):
    """Start real gunicorn servers (migrating their database first, as an operator does); every one is stopped
    at teardown."""
    started: list[Server] = []
    migrated: set[str] = set()

    def start(database_url: str, *, name: str = "server", migrate_first: bool = True, **options) -> Server:
        if migrate_first and database_url not in migrated:
            migrate(database_url)
            migrated.add(database_url)
        server = Server(database_url, tmp_path / f"{name}-{len(started)}.log", **options)
        started.append(server)
        return server.start(timeout_s=60)

    yield start
    for server in started:
        server.stop()


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
    """The factories' ORM unit of work, bound to this test's database; each factory call commits."""
    factories.orm_session.remove()
    factories.orm_session.configure(bind=engine)
    yield factories.orm_session()
    factories.orm_session.remove()


def _postgres_configured() -> bool:
    return bool(os.environ.get("TEST_DATABASE_URL") or os.environ.get("CI"))


def pytest_collection_modifyitems(config, items):
    """The browser tests run last; without TEST_DATABASE_URL (outside CI), the PostgreSQL variants are left out,
    and said so once."""
    # pytest-playwright's sync Playwright keeps an event loop running in this thread until the session ends: a test
    # after the first browser test that calls asyncio.run() failed ("cannot be called from a running event loop").
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable: the order otherwise kept
    if _postgres_configured():
        return
    left_out = [
        item
        for item in items
        if getattr(item, "callspec", None) and item.callspec.params.get("database_url") == "postgresql"
    ]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in set(left_out)]
        config.stash[_LEFT_OUT] = len(left_out)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The one line that says why PostgreSQL tests did not run."""
    count = config.stash.get(_LEFT_OUT, 0)
    if count:
        terminalreporter.write_line(f"{count} PostgreSQL variants not run: {POSTGRES_MISSING}", yellow=True)
