"""Turns that outlive their connection, against real gunicorn: resume after a drop, a stop sent to another
server, and the database commits a turn costs."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

from bench.aclient import events, percentile, request
from bench.turns import agent_process, serving
from tests.fakes.streaming_agent import StreamingAgent
from tests.turns.sse_client import StreamedChat

RECONNECT_S = 0.3


async def _resume_one(host: str, port: int, session_id: str, heard: int, start_s: float) -> tuple[float, bool]:
    await asyncio.sleep(start_s)
    chat = events(host, port, "POST", "/api/v1/chat", {"session_id": session_id, "message": "hi"})
    first = [await anext(chat) for _ in range(1 + heard)]  # the message and `heard` deltas, then the drop
    await chat.aclose()
    turn_id = first[0][1]["turn_id"]
    await asyncio.sleep(RECONNECT_S)  # the phone finds its new network meanwhile; the turn goes on
    sent = time.monotonic()
    path = f"/api/v1/sessions/{session_id}/turns/{turn_id}/events"
    rest = [event async for event in events(host, port, "GET", path, headers={"Last-Event-ID": str(1 + heard)})]
    text = "".join(data["text"] for name, data, _ in first + rest if name == "delta")
    return rest[0][2] - sent, rest[-1][0] == "done" and text == rest[-1][1]["content"]


async def _resume(base_url: str, turns: int, drops_after, starts_over_s: float) -> list[tuple[float, bool]]:
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    created = await asyncio.gather(*(request(host, port, "POST", "/api/v1/sessions", {}) for _ in range(turns)))
    sessions = [json.loads(body)["session_id"] for _, _, body in created]
    return await asyncio.gather(
        *(
            _resume_one(host, port, session_id, drops_after(i), starts_over_s * i / turns)
            for i, session_id in enumerate(sessions)
        )
    )


# (label, chunks of the agent's reply, starts spread over this many seconds, after which delta client i drops)
RESUME_VARIANTS = (
    ("streaming steadily: started over 1 s, 3 s replies, drops spread over the reply", 60, 1.0, lambda i: 1 + i % 15),
    ("all started at once, 1 s replies, every client drops after 2 deltas", 20, 0.0, lambda i: 2),
)


def resume_cases(database_url: str, turns: int = 200, gap_s: float = 0.05) -> list[dict]:
    """`turns` streamed turns (deltas `gap_s` apart); each client drops and reconnects RECONNECT_S later with
    Last-Event-ID: from its request to the first replayed event. Two ways (RESUME_VARIANTS): while all the
    turns stream (phones losing their network at different moments), and all at once, while the burst of turns
    is still being admitted (a herd: every reconnect within a few milliseconds)."""
    rows = []
    for label, chunks, starts_over_s, drops_after in RESUME_VARIANTS:
        with (
            agent_process(str(chunks), str(gap_s)) as agent_url,
            serving(database_url, CHAT_AGENT_URL=f"{agent_url}/stream") as server,
        ):
            results = asyncio.run(_resume(server.base_url, turns, drops_after, starts_over_s))
        latencies = [latency * 1000 for latency, _ in results]
        whole = sum(ok for _, ok in results)
        p99 = round(percentile(latencies, 99), 1)
        rows.append(
            {
                "case": f"resume: {turns} streamed turns, {label}; first replayed event",
                "target": "first replayed event p99 <= 50 ms; every reply whole",
                "candidate_ms": p99,
                "reference_ms": 50,
                "ratio": round(p99 / 50, 3),
                "ok": p99 <= 50 and whole == turns,
                "detail": f"p50 {round(percentile(latencies, 50), 1)} ms; {whole} of {turns} replies whole",
            }
        )
    return rows


def stop_cases(database_url: str, stops: int = 100) -> list[dict]:
    """A turn streaming on one server, stopped through another: from the stop sent to the agent cut off."""
    agent = StreamingAgent(chunks=[f"w{i} " for i in range(500)], gap_s=0.02)
    cut_ms = []
    try:
        with (
            serving(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream") as running_on,
            serving(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream") as other,
        ):
            session_id = requests.post(f"{running_on.base_url}/api/v1/sessions", json={}, timeout=10).json()[
                "session_id"
            ]
            for _ in range(stops):
                agent.hung_up.clear()
                chat = StreamedChat(running_on.base_url, {"session_id": session_id, "message": "hi"})
                events = iter(chat)
                turn_id = next(events)[1]["turn_id"]
                next(events)
                sent = time.monotonic()
                path = f"/api/v1/sessions/{session_id}/turns/{turn_id}/stop"
                requests.post(f"{other.base_url}{path}", json={"heard_chars": 1}, timeout=10).raise_for_status()
                agent.hung_up.wait(5)
                cut_ms.append((agent.hung_up_at - sent) * 1000)
                chat.leave()
    finally:
        agent.close()
    p99 = round(percentile(cut_ms, 99), 1)
    return [
        {
            "case": f"stop sent to another server, {stops} stops: until the agent's stream is closed",
            "target": "p99 <= 200 ms",
            "candidate_ms": p99,
            "reference_ms": 200,
            "ratio": round(p99 / 200, 3),
            "ok": p99 <= 200 and len(cut_ms) == stops,
            "detail": f"p50 {round(percentile(cut_ms, 50), 1)} ms",
        }
    ]


def commits_per_turn(postgres_url: str, turns: int = 50, chunks: int = 20, gap_s: float = 0.05) -> float:
    """PostgreSQL commits (pg_stat_database.xact_commit) per streamed turn of `chunks` chunks `gap_s` apart."""
    engine = sa.create_engine(postgres_url)

    def committed() -> int:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return conn.exec_driver_sql(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).scalar()

    with (
        agent_process(str(chunks), str(gap_s)) as agent_url,
        serving(postgres_url, CHAT_AGENT_URL=f"{agent_url}/stream") as server,
    ):
        sessions = [
            requests.post(f"{server.base_url}/api/v1/sessions", json={}, timeout=10).json()["session_id"]
            for _ in range(turns)
        ]
        time.sleep(1.0)  # the statistics collector catches up
        before = committed()
        with ThreadPoolExecutor(turns) as pool:
            list(
                pool.map(
                    lambda sid: list(StreamedChat(server.base_url, {"session_id": sid, "message": "hi"})), sessions
                )
            )
        time.sleep(1.0)
        after = committed()
    engine.dispose()
    return (after - before) / turns
