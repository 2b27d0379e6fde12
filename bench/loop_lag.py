"""`python -m bench.loop_lag [--postgres URL]`: event-loop lag while 500 coroutines append and read.

Compares AsyncSessionService (the sync service offloaded to threads) with SQLAlchemy's asyncio
drivers (aiosqlite, psycopg async) running the same append (insert + count+1) and newest-50 read.
A probe coroutine sleeps 1 ms over and over; its lag is how much later than asked it woke up.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from backend.services.async_session import AsyncSessionService
from backend.store import sql as st
from bench.fixtures import BenchDatabase

COROUTINES = 500
ROUNDS = 10  # append + read per coroutine


async def _probe(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - start - 0.001)


async def _measure(work, sessions: list[str]) -> dict:
    stop, lags = asyncio.Event(), []
    probe = asyncio.create_task(_probe(stop, lags))
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    await asyncio.gather(*(work(sid) for sid in sessions))
    elapsed = time.perf_counter() - start
    stop.set()
    await probe
    lags.sort()
    return {
        "ops_per_s": round(2 * ROUNDS * len(sessions) / elapsed),
        "lag_p50_ms": round(statistics.median(lags) * 1000, 2),
        "lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 2),
        "lag_max_ms": round(lags[-1] * 1000, 2),
    }


async def offloaded(url: str, sessions: list[str], threads: int) -> dict:
    """AsyncSessionService: each call is the sync service in a worker thread."""
    service = AsyncSessionService(url, threads=threads)

    async def work(sid: str) -> None:
        for i in range(ROUNDS):
            await service.save_message(sid, "user", f"message {i}")
            await service.get_chat_history(sid, limit=50)

    try:
        return await _measure(work, sessions)
    finally:
        service.close()


_worker_service = None


def _start_worker(url: str) -> None:
    global _worker_service
    from backend.services.session import SessionService

    _worker_service = SessionService(url)


def _in_worker(name: str, *args, **kwargs):
    return getattr(_worker_service, name)(*args, **kwargs)


async def processes(url: str, sessions: list[str], count: int) -> dict:
    """The sync service in `count` worker processes: no GIL shared with the loop, records pickled back."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(
        count, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=(url,)
    )
    loop = asyncio.get_running_loop()
    await asyncio.gather(
        *(loop.run_in_executor(executor, _in_worker, "get_session", sessions[0]) for _ in range(count))
    )

    async def work(sid: str) -> None:
        for i in range(ROUNDS):
            await loop.run_in_executor(
                executor, functools.partial(_in_worker, "save_message", sid, "user", f"message {i}")
            )
            await loop.run_in_executor(executor, functools.partial(_in_worker, "get_chat_history", sid, limit=50))

    try:
        return await _measure(work, sessions)
    finally:
        executor.shutdown()


async def no_database(sessions: list[str], threads: int) -> dict:
    """The same 500 coroutines and thread hand-offs with no database: the lag of the loop's own work."""
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=threads)
    loop = asyncio.get_running_loop()

    async def work(sid: str) -> None:
        for _ in range(2 * ROUNDS):
            await loop.run_in_executor(executor, time.sleep, 0)

    try:
        return await _measure(work, sessions)
    finally:
        executor.shutdown()


def _async_url(url: str) -> str:
    parsed = sa.make_url(url)
    driver = "sqlite+aiosqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg_async"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


async def asyncio_driver(url: str, sessions: list[str]) -> dict:
    """SQLAlchemy's AsyncEngine: the same append and read as Core statements, awaited on the loop."""
    from sqlalchemy.ext.asyncio import create_async_engine

    sqlite = sa.make_url(url).get_backend_name() == "sqlite"
    # The same 30 s busy timeout as our engines (aiosqlite's default is 5 s).
    engine = create_async_engine(
        _async_url(url), pool_size=5, max_overflow=10, connect_args={"timeout": 30} if sqlite else {}
    )
    increment = (
        st.sessions.update()
        .where(st.sessions.c.session_id == sa.bindparam("sid"))
        .values(
            message_count=st.sessions.c.message_count + 1,
            last_active=sa.bindparam("now", type_=st.sessions.c.last_active.type),
        )
    )
    insert = st.messages.insert().returning(st.messages.c.id)
    newest = (
        st.MESSAGE.select()
        .where(st.messages.c.session_id == sa.bindparam("sid"))
        .order_by(st.messages.c.id.desc())
        .limit(50)
    )

    async def work(sid: str) -> None:
        for i in range(ROUNDS):
            now = datetime.now(UTC)
            # The UPDATE comes first, so even SQLite's deferred BEGIN waits on busy_timeout, never fails.
            async with engine.begin() as conn:
                await conn.execute(increment, {"sid": sid, "now": now})
                await conn.execute(
                    insert,
                    {"session_id": sid, "role": "user", "content": f"message {i}", "timestamp": now, "metadata": None},
                )
            async with engine.connect() as conn:
                (await conn.execute(newest, {"sid": sid})).all()

    try:
        return await _measure(work, sessions)
    finally:
        await engine.dispose()


def main() -> None:
    """Print one line per database and implementation."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres")
    parser.add_argument("--threads", default="4")
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval, seconds (Python's default 0.005)")
    parser.add_argument("--no-driver", action="store_true", help="skip the asyncio-driver variant")
    parser.add_argument("--processes", default="", help="also offload to this many processes (comma-separated counts)")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    baseline = asyncio.run(no_database([f"lag-{i:04d}" for i in range(COROUTINES)], 4))
    print(
        f"| none | threads=4, no database | {baseline['ops_per_s']}/s | {baseline['lag_p50_ms']} | "
        f"{baseline['lag_p99_ms']} | {baseline['lag_max_ms']} |",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="looplag-") as workdir:
        for kind in kinds:
            labels = [f"threads={t}" for t in args.threads.split(",") if t]
            labels += [f"processes={p}" for p in args.processes.split(",") if p]
            for label in labels + ([] if args.no_driver else ["asyncio driver"]):
                db = BenchDatabase(kind, Path(workdir), args.postgres)
                sessions = [f"lag-{i:04d}" for i in range(COROUTINES)]
                db.fill([(sid, datetime(2026, 1, 1)) for sid in sessions], {})
                try:
                    if label == "asyncio driver":
                        result = asyncio.run(asyncio_driver(db.url, sessions))
                    elif label.startswith("processes="):
                        result = asyncio.run(processes(db.url, sessions, int(label.split("=")[1])))
                    else:
                        result = asyncio.run(offloaded(db.url, sessions, int(label.split("=")[1])))
                finally:
                    db.drop()
                print(
                    f"| {kind} | {label} | {result['ops_per_s']}/s | {result['lag_p50_ms']} | "
                    f"{result['lag_p99_ms']} | {result['lag_max_ms']} |",
                    flush=True,
                )
    print("[done]", file=sys.stderr)


if __name__ == "__main__":
    main()
