"""Prometheus metrics of this process, and the small functions the layers record them with (no Flask here).

Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by config/gunicorn.conf.py) makes every worker write
its values to files there, and a scrape adds them up across workers (prometheus-client's
multiprocess mode). Without it (a test, `flask run`), values live in this process.
The words are the ones the logs use: agent_call outcome ok|failed|timeout|refused; turn outcome
completed|interrupted|failed|refused.
"""

from __future__ import annotations

import functools
import logging
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Why a credential was refused: a fixed set, so that a label never carries what a client sent.
REJECTION_REASONS = (
    "missing",
    "malformed",
    "expired",
    "bad_signature",
    "unknown_key",
    "invalid_claims",
    "wrong_admin_token",
    "not_operator",
    "other",
)
# Methods counted by name; any other (a client may send any token as its method) as "other".
HTTP_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))

# Database transactions are milliseconds; requests and agent calls up to the agent's timeout.
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)
_SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "session_store_http_requests",
    "HTTP requests answered, by route template, method and status",
    ("route", "method", "status"),
)
HTTP_LATENCY = Histogram(
    "session_store_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ("route", "method"),
    buckets=_SLOW_BUCKETS,
)
AUTH_REJECTED = Counter(
    "session_store_auth_rejected",
    "Requests refused for their credential (401), by reason: " + "|".join(REJECTION_REASONS),
    ("reason",),
)
AGENT_CALLS = Counter("session_store_agent_calls", "Agent calls, by outcome (ok|failed|timeout|refused)", ("outcome",))
AGENT_LATENCY = Histogram(
    "session_store_agent_call_duration_seconds",
    "Time an agent call took, by outcome",
    ("outcome",),
    buckets=_SLOW_BUCKETS,
)
TURNS = Counter(
    "session_store_turns", "Chat and voice turns, by outcome (completed|interrupted|failed|refused)", ("outcome",)
)
TURNS_IN_FLIGHT = Gauge("session_store_turns_in_flight", "Turns being served right now", multiprocess_mode="livesum")
TRANSACTION_LATENCY = Histogram(
    "session_store_db_transaction_duration_seconds",
    "Time a database transaction was open, by kind (read|write)",
    ("kind",),
    buckets=_FAST_BUCKETS,
)
SQLITE_BUSY_WAITS = Counter(
    "session_store_sqlite_busy_waits", "SQLite write transactions that waited for the write lock"
)
SQLITE_BUSY_WAIT_SECONDS = Counter(
    "session_store_sqlite_busy_wait_seconds", "Time SQLite writers spent waiting for the write lock"
)

# An uncontended BEGIN IMMEDIATE takes microseconds; longer than this, it waited for another writer.
BUSY_WAIT_THRESHOLD_S = 0.001

log = logging.getLogger(__name__)
_failed = False


def _never_raises(record):
    """Metrics must never fail a request or a transaction: the first error is logged, and recording stops."""

    @functools.wraps(record)
    def guarded(*args):
        global _failed
        if _failed:
            return
        try:
            record(*args)
        except Exception:  # noqa: BLE001 - an unwritable PROMETHEUS_MULTIPROC_DIR, a full disk, ...
            _failed = True
            log.exception("metrics stop being recorded in this process")

    return guarded


# Children bound once (on first use): .labels() costs a dict lookup and a lock per call.
_transaction: dict[bool, object] = {}


@_never_raises
def record_transaction(write: bool, seconds: float) -> None:
    """One database transaction closed after `seconds`."""
    child = _transaction.get(write)
    if child is None:
        child = _transaction[write] = TRANSACTION_LATENCY.labels("write" if write else "read")
    child.observe(seconds)


@_never_raises
def record_begin(seconds: float) -> None:
    """A SQLite write transaction's BEGIN IMMEDIATE took `seconds`: counted as a busy wait when it waited."""
    if seconds >= BUSY_WAIT_THRESHOLD_S:
        SQLITE_BUSY_WAITS.inc()
        SQLITE_BUSY_WAIT_SECONDS.inc(seconds)


@_never_raises
def record_agent_call(outcome: str, seconds: float) -> None:
    """One agent call ended with `outcome` (ok|failed|timeout|refused) after `seconds`."""
    AGENT_CALLS.labels(outcome).inc()
    AGENT_LATENCY.labels(outcome).observe(seconds)


@_never_raises
def record_turn(outcome: str) -> None:
    """One chat or voice turn ended with `outcome` (completed|interrupted|failed|refused)."""
    TURNS.labels(outcome).inc()


@_never_raises
def record_turn_in_flight(change: int) -> None:
    """A turn began (+1) or ended (-1)."""
    TURNS_IN_FLIGHT.inc(change)


@_never_raises
def record_auth_rejected(reason: str) -> None:
    """A request refused for its credential; `reason` one of REJECTION_REASONS (anything else counts as other)."""
    AUTH_REJECTED.labels(reason if reason in REJECTION_REASONS else "other").inc()


_request_children: dict[tuple[str, str, int], tuple] = {}


@_never_raises
def record_request(route: str, method: str, status: int, seconds: float) -> None:
    """One HTTP request answered."""
    method = method if method in HTTP_METHODS else "other"
    key = (route, method, status)
    children = _request_children.get(key)
    if children is None:  # bounded: routes are templates, methods and statuses few
        children = _request_children[key] = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_LATENCY.labels(route, method),
        )
    children[0].inc()
    children[1].observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, added up across workers in multiprocess mode; body and content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
