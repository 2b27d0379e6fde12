"""Engines, one per process and URL, set up for several processes sharing one SQLite file or PostgreSQL database."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import PoolProxiedConnection

from backend.settings import SQLITE_SYNCHRONOUS_LEVELS, postgres_pool_size_from_env, sqlite_synchronous_from_env
from backend.store import sqlite_writes
from backend.store.readiness import readable_check

log = logging.getLogger(__name__)

_engines: dict[tuple[int, str, str], sa.Engine] = {}
_engines_lock = threading.Lock()

BEGIN_READ = "BEGIN"


def get_engine(
    url: str,
    *,
    busy_timeout_s: float = 30.0,
    synchronous: str | None = None,
    pool_size: int | None = None,
    purpose: str = "requests",
) -> sa.Engine:
    """The engine for `url` in this process, one per `purpose` (each its own pool: a burst of one
    kind of work cannot take every connection); a forked child builds its own instead of sharing sockets."""
    key = (os.getpid(), url, purpose)
    engine = _engines.get(key)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(key)
            if engine is None:
                engine = _engines[key] = create_engine(
                    url, busy_timeout_s=busy_timeout_s, synchronous=synchronous, pool_size=pool_size
                )
    return engine


SUPPORTED_DATABASES = ("sqlite", "postgresql")


def engine_for(
    url_or_engine: str | sa.Engine, *, busy_timeout_s: float = 30.0, synchronous: str | None = None
) -> sa.Engine:
    """The engine itself, or this process's engine for a URL of a supported database."""
    if isinstance(url_or_engine, sa.Engine):
        engine = url_or_engine
    else:
        backend = sa.make_url(url_or_engine).get_backend_name()
        if backend not in SUPPORTED_DATABASES:
            raise ValueError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")
        engine = get_engine(url_or_engine, busy_timeout_s=busy_timeout_s, synchronous=synchronous)
    return engine


def dispose_engine(url: str) -> None:
    """Close this process's pooled connections to `url` (tests and benchmarks dropping a database)."""
    for key in [key for key in _engines if key[:2] == (os.getpid(), url)]:
        _engines.pop(key).dispose()


# A small pool and no overflow: a request waits for a free connection instead of opening one.
# Measured (docs/performance.md, "Serving model"), 200 concurrent turns with a 1.0 s agent on
# PostgreSQL sharing the 2 cores: 5 connections and no overflow finished in 1.35-1.6 s where 20
# plus 20 overflow took 1.8-2.2 s. Overflow connections were opened and closed in every burst (a
# backend started per query), and 40 concurrent transactions on 2 cores each waited longer for
# their round trips than 5 did for a free connection.
POOL_TIMEOUT_S = 10.0


def create_engine(
    url: str,
    *,
    busy_timeout_s: float = 30.0,
    synchronous: str | None = None,
    pool_size: int | None = None,
    pool_timeout_s: float = POOL_TIMEOUT_S,
) -> sa.Engine:
    """A new engine set up for several processes sharing one database.

    `synchronous` is SQLite's level (default SQLITE_SYNCHRONOUS, else FULL: each commit syncs the WAL);
    `pool_size` PostgreSQL's connections (default POSTGRES_POOL_SIZE, else 10), waited for up to `pool_timeout_s`.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_parent_directory(parsed)
        engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout_s})
        level = (synchronous or sqlite_synchronous_from_env()).upper()
        if level not in SQLITE_SYNCHRONOUS_LEVELS:  # it goes into a PRAGMA: only the known words
            raise ValueError(f"SQLite synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)}, not {level!r}")
        _configure_sqlite(engine, busy_timeout_s, level)
        return engine
    # No pre-ping (a round trip per checkout, measured ~0.7x on reads): a connection that
    # fails is invalidated instead, and the next checkout connects afresh.
    engine = sa.create_engine(
        parsed, pool_size=pool_size or postgres_pool_size_from_env(), max_overflow=0, pool_timeout=pool_timeout_s
    )
    _discard_closed_connections(engine)
    _warn_when_commits_are_not_durable(engine)
    return engine


def warn_at_start_if_commits_are_not_durable(url: str) -> None:
    """Connect once to a PostgreSQL `url` so that a synchronous_commit that is off is logged at start."""
    if sa.make_url(url).get_backend_name() != "postgresql":
        return
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError:
        pass  # unreachable now: /readyz says so, and each worker warns when it first connects
    finally:
        engine.dispose()


def _warn_when_commits_are_not_durable(engine: sa.Engine) -> None:
    # With synchronous_commit off, PostgreSQL acknowledges a commit before its WAL reaches the disk:
    # a crash can lose the last acknowledged writes. The server's setting is kept; we say so.
    @event.listens_for(engine, "first_connect")
    def on_first_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SHOW synchronous_commit")
            setting = cursor.fetchone()[0]
        finally:
            cursor.close()
        dbapi_connection.rollback()
        if setting == "off":
            log.warning(
                "PostgreSQL synchronous_commit is off: acknowledged writes can be lost in a crash "
                "(set synchronous_commit = on for durable acknowledgements)"
            )


def _discard_closed_connections(engine: sa.Engine) -> None:
    # An idle connection has nothing to read. If its socket is readable, the server (or the
    # network) closed it while it sat in the pool: after a database restart, a failover or a
    # cut link, each such connection would fail one request. One poll() syscall, no round trip, no yield.
    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, _record, _proxy):
        try:
            fd = dbapi_connection.fileno()
        except Exception:  # noqa: BLE001 - a closed driver connection has no descriptor
            raise sa.exc.DisconnectionError("the connection is closed") from None
        if readable_check(fd)():
            raise sa.exc.DisconnectionError("the server closed this pooled connection")


def sqlite_file(url: sa.URL) -> str | None:
    """The file a SQLite URL names, as written in it; None for another database, an in-memory one or a `file:` URI
    (no file that other processes could share by this name)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _ensure_parent_directory(url: sa.URL) -> None:
    database = sqlite_file(url)
    if database is not None:
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: sa.Engine, busy_timeout_s: float, synchronous: str) -> None:
    # pysqlite's own BEGIN handling is switched off so that SQLAlchemy decides when a
    # transaction starts, and a write transaction can take the write lock up front.
    path = sqlite_file(engine.url)
    file_based = path is not None

    c_busy_ms = sqlite_writes.register(engine, busy_timeout_s)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record):
        # SQLite opens a file it may not write read-only, silently, for the connection's life.
        record.info["opened_read_only"] = file_based and not os.access(path, os.W_OK)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {c_busy_ms}")
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # A deleted row's bytes are overwritten, not left in free space: an erase removes them from the file.
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "checkout")
    def on_checkout(_dbapi_connection, record, _proxy):
        # The file became writable again: a connection opened read-only would go on failing every
        # write, so it is replaced (one access() syscall, and only for such connections).
        if record.info.get("opened_read_only") and os.access(path, os.W_OK):
            raise sa.exc.DisconnectionError("the database file became writable")

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # SQLAlchemy begins here; store.transaction may have begun on the driver already.
        driver = connection.connection.driver_connection
        if not driver.in_transaction:
            driver.execute(BEGIN_READ)

    @event.listens_for(engine, "handle_error")
    def on_error(context):
        # A connection opened while the file or its directory was read-only stays read-only for
        # its whole life; treated as a disconnect, the pool drops it and the next call reconnects.
        if is_read_only_connection_error(context.original_exception):
            context.is_disconnect = True


def is_read_only_connection_error(exc: BaseException) -> bool:
    """SQLITE_READONLY and its variants: this connection cannot write, a new one may."""
    return str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_READONLY")


def invalidate_if_unusable(
    dialect: sa.Dialect,
    pooled: PoolProxiedConnection,
    connection: sa.Connection | None,
    exc: BaseException,
    cursor=None,
) -> None:
    """Drop a pooled connection that the driver says is gone (or read-only): the next checkout opens a new one.
    Through SQLAlchemy's `connection` when the transaction made one (it then knows it is invalid too)."""
    if is_read_only_connection_error(exc) or (
        isinstance(exc, dialect.dbapi.Error) and dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
    ):
        (pooled if connection is None else connection).invalidate(exc)
