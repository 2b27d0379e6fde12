"""A seconds-long run of the whole benchmark, so that it cannot rot (figures are not judged here)."""

import pytest

from bench.__main__ import SMOKE, render, run
from bench.instructions import missing_tools
from tests.databases import postgres_url_or_skip

pytestmark = pytest.mark.slow  # runs every benchmark case, gunicorn included

CASES = {
    "save_message vs raw driver",
    "get_chat_history(50) vs raw driver",
    "context window of 2,000 tokens",
    "history newest 50",
    "history page before=",
    "listing first page",
    "listing next page",
    "purge --dry-run",
    "purge (",
    "HTTP POST .../messages vs GET /healthz",
    "HTTP GET .../messages?limit=50 vs GET /healthz",
    "serving: gevent vs sync, HTTP POST messages, one session",
    "serving: gevent vs sync, HTTP POST messages, 100 sessions",
    "serving: gevent vs sync, HTTP GET-50",
    "streamed delta latency",
    "capacity: 10 concurrent chats, HTTP agent",
    "capacity: 10 concurrent chats, in-process agent",
    "slow clients:",
    "resume: 10 streamed turns",
    "stop sent to another server",
}
SQLITE_ONLY = {
    "HTTP POST .../messages, SQLITE_SYNCHRONOUS=FULL vs NORMAL",
    "server CPU per request vs FastAPI (async + threadpool), POST",
    "server CPU per request vs FastAPI (async + threadpool), GET-50",
    "server CPU per request vs FastAPI (async + threadpool), healthz",
}
# Counted under valgrind: left out, and said so, where it is not installed (.ci/run installs it).
INSTRUCTIONS = {
    "instructions per request, post, vs the budget",
    "instructions per request, get-50, vs the budget",
    "instructions per request, healthz, vs the budget",
    "instructions per request, turn, vs the budget",
    "instructions per request, resume, vs the budget",
    "instructions: raw sqlite3 vs the service, append",
    "instructions: raw sqlite3 vs the service, read-50",
}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_benchmark_runs_every_case_and_reports_ratios(kind):
    postgres_url = postgres_url_or_skip() if kind == "postgresql" else None
    rows = run([kind], SMOKE, http=True, postgres_url=postgres_url)
    expected = CASES | (SQLITE_ONLY if kind == "sqlite" else set())
    if kind == "sqlite" and missing_tools() is None:
        expected |= INSTRUCTIONS
    assert {next(c for c in expected if row["case"].startswith(c)) for row in rows} == expected
    assert all(row["database"] == kind and row["ratio"] > 0 for row in rows)
    assert all(row.get("non_2xx", 0) == 0 for row in rows)
    assert render(rows).count("\n") == len(rows) + 1
