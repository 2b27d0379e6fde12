"""A pytest plugin (`-p`) for the openai-agents sdist's tests/memory: its SQLiteSession is our StoreSession, on a
migrated SQLite file at the test's db_path (one service per file). It also says how many of the tests that ran
built a StoreSession at all (the compaction tests also run over the SDK's in-memory and async SQLite sessions)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import agents
import agents.memory
import pytest

from backend.adapters.openai_agents import StoreSession
from backend.services.session import SessionService
from backend.settings import Limits
from backend.store.engines import create_engine
from backend.store.migrations import upgrade_to_head

_services: dict[str, SessionService] = {}
_built = {"now": False, "tests": 0}


def _service(db_path: str | Path) -> SessionService:
    path = str(db_path)
    if path == ":memory:":  # the SDK's default: a database of its own, here a file of its own
        path = tempfile.mkstemp(suffix=".db")[1]
    service = _services.get(path)
    if service is None:
        upgrade_to_head(create_engine(f"sqlite:///{path}"))
        service = _services[path] = SessionService(f"sqlite:///{path}", limits=Limits.for_agents())
    return service


class StoreBackedSQLiteSession(StoreSession):
    """SQLiteSession's constructor over StoreSession."""

    def __init__(
        self,
        session_id: str,
        db_path: str | Path = ":memory:",
        sessions_table: str = "agent_sessions",
        messages_table: str = "agent_messages",
        session_settings: Any = None,
    ):
        super().__init__(session_id, _service(db_path), session_settings=session_settings)
        _built["now"] = True

    def close(self) -> None:
        """Nothing to close: the service's pool outlives a session object, as in a server."""


agents.SQLiteSession = StoreBackedSQLiteSession
agents.memory.SQLiteSession = StoreBackedSQLiteSession

_INTERNALS = "reaches SQLiteSession's own connections, locks or tables"
_TRIGGER = "adds a trigger to SQLiteSession's table agent_messages through its db_path"
# Tests of SQLiteSession's internals, each with why it cannot run against another store; every other test of
# tests/memory/test_session.py, test_session_limit.py and the compaction tests runs.
DESELECTED = {
    "test_sqlite_session_close_closes_worker_thread_connections": _INTERNALS + " (_connections)",
    "test_sqlite_session_reaps_connections_from_exited_worker_threads": _INTERNALS + " (_connections)",
    "test_sqlite_session_closes_retired_connections_before_the_next_allocation": _INTERNALS + " (_connections)",
    "test_sqlite_session_keeps_connections_of_live_worker_threads": _INTERNALS + " (_connections)",
    "test_sqlite_session_closed_rejects_empty_add_items": "SQLiteSession.close() ends the object; a StoreSession "
    "is a view of a stored session and has nothing to close",
    "test_sqlite_session_pop_item_skips_corrupt_most_recent": _INTERNALS + " (_locked_connection, agent_messages); "
    "and ours keeps an unreadable row where SQLiteSession deletes it (tests/adapters/test_parity.py)",
    "test_sqlite_session_pop_item_returns_none_after_dropping_only_corrupt_rows": _INTERNALS
    + " (_locked_connection); ours never deletes a row it cannot return",
    "test_sqlite_session_get_items_limit_skips_corrupt_newest_rows": _INTERNALS
    + " (_locked_connection); the same behaviour is tested in tests/adapters/test_parity.py",
    "test_sqlite_session_get_items_session_settings_limit_skips_corrupt_rows": _INTERNALS + " (_locked_connection)",
    "test_sqlite_session_file_lock_is_shared_across_instances": _INTERNALS + " (_lock)",
    "test_sqlite_session_failed_add_items_releases_write_lock": _INTERNALS + " (agent_sessions)",
    "test_sqlite_session_failed_clear_session_rolls_back": _INTERNALS + " (agent_sessions)",
    "test_sqlite_session_failed_pop_item_releases_write_lock": _INTERNALS + " (agent_messages)",
    "test_sqlite_session_rollback_failure_evicts_connection": _INTERNALS + " (_connections_lock)",
    "test_sqlite_session_close_retries_quarantined_connection": _INTERNALS + " (_connections_lock)",
    "test_sqlite_session_post_commit_cancellation_propagates_after_known_outcome": _INTERNALS
    + " (_connections_lock); the same behaviour is tested in tests/adapters/test_parity.py",
    # test_openai_responses_compaction_session.py, test_compaction_suffix.py
    "test_settled_pop_failure_invalidates_response_chain": _INTERNALS + " (_connections_lock, _get_connection)",
    "test_settled_clear_failure_invalidates_response_chain": _INTERNALS + " (_connections_lock, _get_connection)",
    "test_suffix_transaction_rolls_back_failed_insert": _TRIGGER
    + "; the same behaviour is tested in tests/adapters/test_compaction.py",
    "test_failed_encrypted_suffix_transaction_preserves_original_tokens": _TRIGGER,
    "test_cancelled_suffix_transaction_settles_before_newer_append": _INTERNALS
    + " (_insert_items); the same behaviour is tested in tests/adapters/test_compaction.py",
}


def pytest_collection_modifyitems(config, items):
    """Deselect DESELECTED by name, printing each with its reason."""
    kept, dropped = [], []
    for item in items:
        (dropped if item.originalname in DESELECTED else kept).append(item)
    for item in dropped:
        print(f"deselected {item.nodeid}: {DESELECTED[item.originalname]}")
    items[:] = kept
    config.hook.pytest_deselected(items=dropped)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Note whether the test built a StoreSession."""
    _built["now"] = False
    try:
        return (yield)
    finally:
        _built["tests"] += _built["now"]


def pytest_terminal_summary(terminalreporter):
    """How many tests ran against StoreSession."""
    terminalreporter.write_line(f"{_built['tests']} tests built a StoreSession")
