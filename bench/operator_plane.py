"""The operator's plane at size: indexing existing rows for search (revision 0007), search latency, the memory of
an export served by a gunicorn worker, and the cost of an erase's scrub.

`python -m bench.operator_plane [--messages 1000000] [--databases sqlite,postgresql]` prints one line per figure.
Messages are words drawn from a Zipf-like vocabulary of 20,000, 8 to 40 words each, in 1,000 sessions of one
owner's and the others'; a two-word query pairs words of middling frequency.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests
import sqlalchemy as sa

from backend.models.types import STORED_TIMESTAMP_FORMAT
from backend.services.session import SessionService
from backend.store.engines import create_engine
from backend.store.migrations import alembic_config
from tests.servers import Server

VOCABULARY = 20_000
SESSIONS = 1_000
ERASED_SESSION = "s-00999"  # the one session of another owner: erased among all the others
SEED = 7

from alembic import command  # noqa: E402 - beside the project's imports, as alembic/env.py does


def words() -> tuple[list[str], list[float]]:
    rng = random.Random(SEED)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(VOCABULARY)]
    weights = [1 / (rank + 1) for rank in range(VOCABULARY)]
    return vocabulary, weights


def message_rows(count: int):
    vocabulary, weights = words()
    cumulative = list(itertools.accumulate(weights))
    rng = random.Random(SEED + 1)
    base = datetime(2026, 1, 1)
    for i in range(count):
        text = " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(8, 40)))
        session = f"s-{i % SESSIONS:05d}"
        yield session, "user" if i % 2 == 0 else "assistant", text, base + timedelta(microseconds=i)


def owner_of(session: str) -> str:
    return "erased" if session == ERASED_SESSION else "exported"


def build_at_0006(url: str, count: int) -> sa.Engine:
    engine = create_engine(url)
    command.upgrade(alembic_config(engine), "0006")
    now = datetime(2026, 1, 2).strftime(STORED_TIMESTAMP_FORMAT)
    sessions = [(f"s-{i:05d}", owner_of(f"s-{i:05d}"), now, now, count // SESSIONS) for i in range(SESSIONS)]
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(
                "INSERT INTO sessions (session_id, owner, created_at, last_active, message_count, metadata) "
                "VALUES (?, ?, ?, ?, ?, '{}')",
                sessions,
            )
            raw.executemany(
                "INSERT INTO chat_history (session_id, role, content, timestamp) VALUES (?, ?, ?, ?)",
                ((s, r, c, t.strftime(STORED_TIMESTAMP_FORMAT)) for s, r, c, t in message_rows(count)),
            )
            raw.execute("COMMIT")
        else:
            with raw.cursor() as cur:
                with cur.copy(
                    "COPY sessions (session_id, owner, created_at, last_active, message_count, metadata) FROM STDIN"
                ) as copy:
                    for row in sessions:
                        copy.write_row((*row, "{}"))
                with cur.copy("COPY chat_history (session_id, role, content, timestamp) FROM STDIN") as copy:
                    for row in message_rows(count):
                        copy.write_row(row)
            raw.commit()
    return engine


def two_word_queries(n: int) -> list[str]:
    """Two words that occur together in some message (so each query has hits), as a user remembers them."""
    rng = random.Random(SEED + 2)
    texts = [text for _, _, text, _ in itertools.islice(message_rows(n), n)]
    return [" ".join(rng.sample(sorted(set(text.split())), 2)) for text in texts]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(kind: str, url: str, count: int, workdir: Path, report) -> None:
    started = time.perf_counter()
    engine = build_at_0006(url, count)
    report(kind, "fill (not measured work)", f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    command.upgrade(alembic_config(engine), "0007")
    report(kind, f"revision 0007 indexes {count:,} messages", f"{time.perf_counter() - started:.1f} s")
    if kind == "postgresql":
        with engine.connect() as conn:
            conn.connection.driver_connection.autocommit = True
            conn.exec_driver_sql("ANALYZE")
    service = SessionService(engine)
    common = words()[0][3]  # the fourth most frequent word: in about one message of ten
    for label, queries in (("two-word query", two_word_queries(300)), ("one common word", [common] * 100)):
        service.search(queries[0])  # warm
        timings, hits = [], []
        for query in queries:
            t0 = time.perf_counter()
            hits.append(len(service.search(query, limit=20).hits))
            timings.append((time.perf_counter() - t0) * 1000)
        report(
            kind,
            f"search, {label}, limit 20 ({len(queries)} queries, median {statistics.median(hits):.0f} hits)",
            f"p50 {percentile(timings, 0.5):.1f} ms, p99 {percentile(timings, 0.99):.1f} ms",
        )
    exported = count - count // SESSIONS
    server = Server(
        url, workdir / f"{kind}-server.log", workers=1, ADMIN_TOKEN="bench-operator-token-0123456789"
    ).start(60)
    try:
        (worker,) = server.worker_pids()
        before = _peak_rss_mb(worker)
        t0 = time.perf_counter()
        lines = 0
        with requests.get(
            f"{server.base_url}/api/v1/owners/exported/export",
            headers={"Authorization": "Bearer bench-operator-token-0123456789"},
            stream=True,
            timeout=600,
        ) as response:
            for chunk in response.iter_lines():
                lines += 1
                last = chunk
        took = time.perf_counter() - t0
        assert json.loads(last)["messages"] == exported, last
        report(
            kind,
            f"export of {exported:,} messages through a gunicorn worker",
            f"{took:.1f} s, {lines:,} lines; worker peak RSS {before:.0f} MB before, {_peak_rss_mb(worker):.0f} MB "
            "after",
        )
    finally:
        server.stop()
    t0 = time.perf_counter()
    erased = service.erase_owner("erased")
    scrub = (
        ""
        if erased.scrub is None
        else (
            f", {erased.scrub.merge_steps} index merge steps, the longest {erased.scrub.longest_step_s * 1000:.0f} ms"
        )
    )
    report(
        kind,
        f"erase of one owner ({erased.counts['messages']:,} messages) among {count:,}",
        f"{time.perf_counter() - t0:.1f} s, file scrubbed: {erased.file_scrubbed}{scrub}",
    )


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()

    def report(kind, what, figure):
        print(f"{kind:10} | {what} | {figure}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-operator-") as workdir:
        for kind in args.databases.split(","):
            if kind == "sqlite":
                url = f"sqlite:///{workdir}/operator.db"
            else:
                base = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
                admin = sa.create_engine(base)
                with admin.begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA IF EXISTS bench_operator CASCADE; CREATE SCHEMA bench_operator")
                admin.dispose()
                url = (
                    sa.make_url(base)
                    .update_query_dict({"options": "-csearch_path=bench_operator"})
                    .render_as_string(False)
                )
            measure(kind, url, args.messages, Path(workdir), report)
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
