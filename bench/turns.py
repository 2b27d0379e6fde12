"""Turns in the field against real gunicorn (default worker class): capacity with a slow agent, slow clients, delta
latency; resume and stop (bench/resume.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.aclient import percentile, request
from tests.fakes.streaming_agent import StreamingAgent
from tests.servers import Server, migrate
from tests.turns.sse_client import StreamedChat


@contextmanager
def serving(database_url: str, **settings):
    """A migrated database served by gunicorn with 2 workers; yields the Server."""
    migrate(database_url)
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as workdir:
        server = Server(
            database_url,
            Path(workdir) / "server.log",
            workers=2,
            extra_args=("--access-logfile", "/dev/null"),
            **settings,
        ).start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def agent_process(*stream: str):
    """The loopback HTTP agent in a process of its own, so that it does not share the load client's GIL;
    `stream` = (chunks, gap_s) of its /stream answers."""
    command = [sys.executable, "-m", "tests.fakes.streaming_agent", *stream]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as process:
        try:
            yield process.stdout.readline().strip()
        finally:
            process.stdin.close()
            process.wait(timeout=10)


def _seeded_history(server: Server) -> str:
    session_id = requests.post(f"{server.base_url}/api/v1/sessions", json={}, timeout=10).json()["session_id"]
    for i in range(60):
        requests.post(
            f"{server.base_url}/api/v1/sessions/{session_id}/messages",
            json={"role": "user", "content": f"seed {i}"},
            timeout=10,
        )
    return session_id


async def _capacity(server: Server, chats: int, probe_every_s: float) -> dict:
    host, port = "127.0.0.1", server.port
    sessions = [(await request(host, port, "POST", "/api/v1/sessions", {}))[2] for _ in range(chats)]
    session_ids = [__import__("json").loads(body)["session_id"] for body in sessions]
    history = _seeded_history(server)
    started = time.monotonic()
    ended: list[float] = []

    async def chat(session_id):
        status, _, _ = await request(host, port, "POST", "/api/v1/chat", {"session_id": session_id, "message": "hi"})
        ended.append(time.monotonic())
        return status

    tasks = [asyncio.create_task(chat(s)) for s in session_ids]
    probes: dict[str, list[float]] = {"healthz": [], "messages": []}
    while not all(task.done() for task in tasks):
        health, messages = await asyncio.gather(
            request(host, port, "GET", "/healthz"),
            request(host, port, "GET", f"/api/v1/sessions/{history}/messages?limit=50"),
        )
        probes["healthz"].append(health[1])
        probes["messages"].append(messages[1])
        await asyncio.sleep(probe_every_s)
    statuses = [task.result() for task in tasks]
    return {
        "chats": chats,
        "failed": sum(status != 200 for status in statuses),
        "all_done_s": round(max(ended) - started, 3),
        "healthz_p99_ms": round(percentile(probes["healthz"], 99) * 1000, 1),
        "messages_p99_ms": round(percentile(probes["messages"], 99) * 1000, 1),
        "probes": len(probes["healthz"]),
    }


def capacity_cases(database_url: str, chats: int = 200) -> list[dict]:
    """200 concurrent chats, one session each, with a 1.0 s HTTP agent and with a 1.0 s in-process agent."""
    rows = []
    with agent_process() as agent_url:
        for label, settings in (
            ("HTTP agent 1.0 s", {"CHAT_AGENT_URL": f"{agent_url}/slow"}),
            ("in-process agent sleeping 1.0 s", {"CHAT_AGENT": "tests.fakes.agents:sleeping"}),
        ):
            with serving(database_url, **settings) as server:
                result = asyncio.run(_capacity(server, chats, 0.02))
            ok = (
                result["failed"] == 0
                and result["all_done_s"] <= 1.5
                and result["healthz_p99_ms"] <= 100
                and result["messages_p99_ms"] <= 100
            )
            rows.append(
                {
                    "case": f"capacity: {chats} concurrent chats, {label}",
                    "target": "all done <= 1.5 s, none failed, /healthz and GET messages p99 <= 100 ms",
                    "candidate_ms": round(result["all_done_s"] * 1000),
                    "reference_ms": 1000,
                    "ratio": round(result["all_done_s"], 3),
                    "ok": ok,
                    "detail": f"{result['failed']} failed; p99 /healthz {result['healthz_p99_ms']} ms, "
                    f"GET messages {result['messages_p99_ms']} ms",
                    **result,
                }
            )
    return rows


async def _trickle(host: str, port: int, kind: str, closed: list[float]) -> None:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == "body":
        writer.write(
            b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        data = b"{" + b" " * 99
    elif kind == "idle":
        data = b""
    try:
        for byte in data:
            writer.write(bytes([byte]))
            try:
                if await asyncio.wait_for(reader.read(4096), 1.0) == b"":
                    break
            except TimeoutError:
                continue
        while await asyncio.wait_for(reader.read(4096), 30):
            pass
    except (TimeoutError, OSError):
        pass
    closed.append(time.monotonic() - started)
    writer.close()


async def _latencies(host: str, port: int, history: str, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for method, path, body in (
            ("GET", "/healthz", None),
            ("GET", f"/api/v1/sessions/{history}/messages?limit=50", None),
            ("POST", "/api/v1/sessions", {}),
        ):
            latencies.append((await request(host, port, method, path, body))[1])
        await asyncio.sleep(0.01)
    return latencies


async def _slow_clients(server: Server, idle: int, trickling: int) -> dict:
    host, port = "127.0.0.1", server.port
    history = _seeded_history(server)
    baseline = await _latencies(host, port, history, 3)
    closed: list[float] = []
    kinds = ["idle"] * idle + ["headers"] * (trickling // 2) + ["body"] * (trickling - trickling // 2)
    slow = [asyncio.create_task(_trickle(host, port, kind, closed)) for kind in kinds]
    await asyncio.sleep(0.2)
    loaded = await _latencies(host, port, history, 4)
    await asyncio.gather(*slow)
    return {
        "baseline_p99_ms": round(percentile(baseline, 99) * 1000, 1),
        "with_slow_p99_ms": round(percentile(loaded, 99) * 1000, 1),
        "slow_connections": len(closed),
        "closed_after_max_s": round(max(closed), 2),
        "closed_after_min_s": round(min(closed), 2),
    }


def slow_client_cases(database_url: str, idle: int = 50, trickling: int = 50) -> list[dict]:
    """50 idle connections and 50 trickling headers or a body at 1 byte/s, beside ordinary clients."""
    with serving(database_url) as server:
        result = asyncio.run(_slow_clients(server, idle, trickling))
    added = round(result["with_slow_p99_ms"] - result["baseline_p99_ms"], 1)
    return [
        {
            "case": f"slow clients: {idle} idle + {trickling} trickling at 1 byte/s, p99 of other requests",
            "target": "adds <= 100 ms at p99; each slow connection closed <= 10 s",
            "candidate_ms": result["with_slow_p99_ms"],
            "reference_ms": result["baseline_p99_ms"],
            "ratio": round(result["with_slow_p99_ms"] / max(result["baseline_p99_ms"], 0.1), 3),
            "detail": f"p99 +{added} ms; slow connections closed after {result['closed_after_min_s']}-"
            f"{result['closed_after_max_s']} s",
            "ok": added <= 100 and result["closed_after_max_s"] <= 10,
            "added_p99_ms": added,
            **result,
        }
    ]


def delta_latency_cases(database_url: str, chunks: int = 40, gap_s: float = 0.05) -> list[dict]:
    """From the agent writing a delta to the client reading it, through gunicorn and the app."""
    agent = StreamingAgent(chunks=[f"w{i} " for i in range(chunks)], gap_s=gap_s)
    try:
        with serving(database_url, CHAT_AGENT_URL=f"{agent.base_url}/stream") as server:
            session_id = requests.post(f"{server.base_url}/api/v1/sessions", json={}, timeout=10).json()["session_id"]
            arrivals = [
                at
                for name, _, at in StreamedChat(server.base_url, {"session_id": session_id, "message": "hi"})
                if name == "delta"
            ]
    finally:
        agent.close()
    latencies = [(arrived - sent) * 1000 for arrived, sent in zip(arrivals, agent.sent_at, strict=True)]
    worst = round(max(latencies), 1)
    return [
        {
            "case": f"streamed delta latency, agent to client ({chunks} deltas {gap_s * 1000:g} ms apart)",
            "target": "every delta < 50 ms",
            "candidate_ms": worst,
            "reference_ms": 50,
            "ratio": round(worst / 50, 3),
            "ok": worst < 50 and len(arrivals) == chunks,
            "detail": f"p50 {round(percentile(latencies, 50), 1)} ms",
            "p50_ms": round(percentile(latencies, 50), 1),
            "max_ms": worst,
            "deltas": len(arrivals),
        }
    ]


def turn_cases(database_url: str, size) -> list[dict]:
    """Every case of this module at `size` (bench.__main__.Size)."""
    from bench.resume import resume_cases, stop_cases
    from bench.serving import serving_cases

    rows, _ = serving_cases(database_url, min(size.http_seconds, 5), rounds=3 if size.http_seconds >= 5 else 1)
    rows += delta_latency_cases(database_url, size.stream_chunks)
    rows += resume_cases(database_url, size.turn_chats)
    rows += stop_cases(database_url, 100 if size.turn_chats >= 200 else 5)
    rows += capacity_cases(database_url, size.turn_chats)
    rows += slow_client_cases(database_url, size.slow_idle, size.slow_trickling)
    return rows


if __name__ == "__main__":
    import json

    url = sys.argv[1]
    for case in sys.argv[2:] or ["delta", "capacity", "slow"]:
        rows = {"delta": delta_latency_cases, "capacity": capacity_cases, "slow": slow_client_cases}[case](url)
        print(json.dumps(rows, indent=1), flush=True)
