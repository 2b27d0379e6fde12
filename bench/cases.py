"""The benchmark cases of issue 5; each returns rows of the report table."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from backend.services.maintenance import MaintenanceService
from backend.services.session import SessionService
from bench.fixtures import NOW, BenchDatabase, session_ids
from bench.raw import RawStore
from bench.timing import compare_latencies, compare_rates


def service_vs_raw(db: BenchDatabase, size) -> list[dict]:
    """save_message and get_chat_history(limit=50) through the service vs the raw driver."""
    db.fill(session_ids("svc", 2, NOW), {"svc-00000000": 200, "svc-00000001": 200})
    service, raw = SessionService(db.url), RawStore(db.url)
    try:
        append = compare_rates(
            lambda: service.save_message("svc-00000000", "user", "hello there"),
            lambda: raw.append("svc-00000001", "user", "hello there"),
            rounds=size.rounds,
            seconds=size.seconds,
        )
        read = compare_rates(
            lambda: service.get_chat_history("svc-00000000", limit=50),
            lambda: raw.history("svc-00000001", 50),
            rounds=size.rounds,
            seconds=size.seconds,
        )
    finally:
        raw.close()
    return [
        {"case": "save_message vs raw driver", "target": ">= 0.5", **append, "ok": append["ratio"] >= 0.5},
        {"case": "get_chat_history(50) vs raw driver", "target": ">= 0.5", **read, "ok": read["ratio"] >= 0.5},
    ]


CONTEXT_TOKENS = 2_000  # about 330 of the filled messages: fewer than the small session holds


def flat_history(db: BenchDatabase, size) -> list[dict]:
    """History of a huge session vs a small one, in a database with millions of other rows."""
    others = max(1, size.other_messages // 1000)
    counts = {"big-00000000": size.big_session, "small-00000000": 1000}
    counts.update({f"other-{i:08d}": 1000 for i in range(others)})
    sessions = session_ids("big", 1, NOW) + session_ids("small", 1, NOW) + session_ids("other", others, NOW)
    db.fill(sessions, counts)
    service = SessionService(db.url)
    big_middle = service.get_chat_history("big-00000000", limit=1)[0].id - size.big_session // 2
    small_middle = service.get_chat_history("small-00000000", limit=1)[0].id - 500
    newest = compare_latencies(
        lambda: service.get_chat_history("big-00000000", limit=50),
        lambda: service.get_chat_history("small-00000000", limit=50),
        rounds=size.rounds,
        repeats=size.repeats,
    )
    paged = compare_latencies(
        lambda: service.get_chat_history("big-00000000", limit=50, before=big_middle),
        lambda: service.get_chat_history("small-00000000", limit=50, before=small_middle),
        rounds=size.rounds,
        repeats=size.repeats,
    )
    for session_id in ("big-00000000", "small-00000000"):
        service.get_context(session_id, max_tokens=CONTEXT_TOKENS)  # the filled rows are counted once, kept
    context = compare_latencies(
        lambda: service.get_context("big-00000000", max_tokens=CONTEXT_TOKENS),
        lambda: service.get_context("small-00000000", max_tokens=CONTEXT_TOKENS),
        rounds=size.rounds,
        repeats=size.repeats,
    )
    label = f"{size.big_session:,} msgs vs 1,000 ({size.big_session + 1000 + others * 1000:,} rows)"
    return [
        {
            "case": f"context window of {CONTEXT_TOKENS:,} tokens, {label}",
            "target": "<= 1.2",
            **context,
            "ok": context["ratio"] <= 1.2,
        },
        {"case": f"history newest 50, {label}", "target": "<= 1.2", **newest, "ok": newest["ratio"] <= 1.2},
        {"case": f"history page before=, {label}", "target": "<= 1.2", **paged, "ok": paged["ratio"] <= 1.2},
    ]


def operator_paths(big: BenchDatabase, small: BenchDatabase, size) -> list[dict]:
    """Listing and idle purge at many sessions vs at 1,000 sessions."""
    idle_count = 100
    for db, count in ((big, size.many_sessions), (small, 1000)):
        db.fill(session_ids(f"s{count}", count - idle_count, NOW), {})
        _add_idle_sessions(db, f"idle{count}", idle_count)
    big_service, small_service = SessionService(big.url), SessionService(small.url)
    cursor_big = big_service.list_sessions(limit=50).next_cursor
    cursor_small = small_service.list_sessions(limit=50).next_cursor
    first_page = compare_latencies(
        lambda: big_service.list_sessions(limit=50),
        lambda: small_service.list_sessions(limit=50),
        rounds=size.rounds,
        repeats=size.repeats,
    )
    next_page = compare_latencies(
        lambda: big_service.list_sessions(limit=50, cursor=cursor_big),
        lambda: small_service.list_sessions(limit=50, cursor=cursor_small),
        rounds=size.rounds,
        repeats=size.repeats,
    )
    purge = compare_latencies(
        lambda: MaintenanceService(big.url).purge_idle_sessions(30, dry_run=True),
        lambda: MaintenanceService(small.url).purge_idle_sessions(30, dry_run=True),
        rounds=size.rounds,
        repeats=max(3, size.repeats // 10),
    )
    real = _compare_real_purges(big, small, idle_count, size.rounds)
    label = f"{size.many_sessions:,} vs 1,000 sessions"
    rows = [
        {"case": f"listing first page, {label}", "target": "<= 1.2", **first_page},
        {"case": f"listing next page, {label}", "target": "<= 1.2", **next_page},
        {"case": f"purge --dry-run ({idle_count} idle), {label}", "target": "<= 1.2", **purge},
        {"case": f"purge ({idle_count} idle, 5 msgs each), {label}", "target": "<= 1.2", **real},
    ]
    for row in rows:
        row["ok"] = row["ratio"] <= 1.2
    return rows


def _add_idle_sessions(db: BenchDatabase, prefix: str, count: int) -> list[str]:
    idle = session_ids(prefix, count, NOW - timedelta(days=90))
    db.fill(idle, {session_id: 5 for session_id, _ in idle})
    return [session_id for session_id, _ in idle]


def _compare_real_purges(big: BenchDatabase, small: BenchDatabase, idle_count: int, rounds: int) -> dict:
    """Median time of a real purge of `idle_count` idle sessions in each database, refilled between rounds."""
    timings = {"big": [], "small": []}
    for round_number in range(rounds):
        for name, db in (("big", big), ("small", small)):
            if round_number:
                _add_idle_sessions(db, f"idle-r{round_number}", idle_count)
            start = time.perf_counter()
            report = MaintenanceService(db.url).purge_idle_sessions(30)
            timings[name].append(time.perf_counter() - start)
            assert (report.sessions, report.messages) == (idle_count, idle_count * 5), report
    cand, ref = statistics.median(timings["big"]), statistics.median(timings["small"])
    return {"candidate_ms": round(cand * 1e3, 4), "reference_ms": round(ref * 1e3, 4), "ratio": round(cand / ref, 3)}
