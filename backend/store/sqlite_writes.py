"""SQLite's one writer: in each process one write transaction at a time asks for the file's write lock,
and another process's lock is waited for without stalling the worker's other requests under gevent."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from backend.store.errors import StoreUnavailable

# Deferred BEGIN for writes fails at once with SQLITE_BUSY when another writer committed in
# between (busy_timeout is not consulted); IMMEDIATE waits for the lock instead.
BEGIN_WRITE = "BEGIN IMMEDIATE"
# Under gevent a statement may wait for a lock inside SQLite's C call for at most this long (ms),
# stalling the worker's other requests meanwhile; in WAL mode a read almost never waits at all.
COOPERATIVE_C_BUSY_MS = 2
# BEGIN IMMEDIATE, which waits whenever another worker is writing, does not wait in C at all under
# gevent: it is retried after cooperative sleeps of 0.2 ms doubling up to 5 ms. Measured with 200
# concurrent turns (docs/performance.md, "No wait in C for the write lock"): SQLite's own 1-2 ms wait
# in C on every contended BEGIN put /healthz's p99 at 142 ms (median of 6 runs); without it, 72-79 ms.
FIRST_RETRY_S, LONGEST_RETRY_S = 0.0002, 0.005

# Each SQLite engine: (busy timeout in seconds, whether its waits must yield to other greenlets).
_engines: weakref.WeakKeyDictionary[sa.Engine, tuple[float, bool]] = weakref.WeakKeyDictionary()
_writers: dict[tuple[int, str], threading.Lock] = {}  # (process, file): its one writer
_writers_lock = threading.Lock()


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("time")


def register(engine: sa.Engine, busy_timeout_s: float) -> int:
    """Note how `engine`'s writes wait for the lock; the busy timeout (ms) for SQLite's own handler.

    Under gevent, SQLite's own busy wait sleeps inside a C call and stalls every request of the
    worker; there it is cut to a few milliseconds and write locks are waited for cooperatively.
    """
    cooperative = _gevent_patched()
    _engines[engine] = (busy_timeout_s, cooperative)
    return COOPERATIVE_C_BUSY_MS if cooperative else int(busy_timeout_s * 1000)


@contextmanager
def one_writer(engine: sa.Engine) -> Iterator[None]:
    """Held around a write transaction on `engine`'s file: this process's other writers wait here
    (cooperatively under gevent) instead of each polling SQLite's lock. SQLite's busy handler sleeps
    up to 100 ms between tries whatever the lock does meanwhile, and under gevent each failed try
    stalled the worker for the C busy wait: 200 turns at once left the CPU 74% idle."""
    busy_timeout_s, _ = _engines[engine]
    key = (os.getpid(), engine.url.database or "")
    writer = _writers.get(key)
    if writer is None:
        with _writers_lock:
            writer = _writers.setdefault(key, threading.Lock())
    if not writer.acquire(timeout=busy_timeout_s):
        raise StoreUnavailable("the database is busy; retry shortly")
    try:
        yield
    finally:
        writer.release()


def begin_write(engine: sa.Engine, driver) -> None:
    """BEGIN IMMEDIATE on a SQLite driver connection of `engine`: the write lock taken up front, waited for
    cooperatively under gevent (SQLite's own wait would stall the worker's other requests)."""
    busy_timeout_s, cooperative = _engines[engine]
    if not cooperative:
        driver.execute(BEGIN_WRITE)
    else:
        begin_immediate_cooperatively(driver, busy_timeout_s)


def begin_immediate_cooperatively(driver, busy_timeout_s: float) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write lock in short sleeps that yield to other
    greenlets; SQLite's own wait in C is off meanwhile (the connection's is restored after)."""
    deadline = time.monotonic() + busy_timeout_s
    delay = FIRST_RETRY_S
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                driver.execute(BEGIN_WRITE)
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)  # gevent's sleep: the worker's other requests run meanwhile
            delay = min(delay * 2, LONGEST_RETRY_S)
    finally:
        driver.execute(f"PRAGMA busy_timeout = {COOPERATIVE_C_BUSY_MS}")
