"""Server CPU per request against peers on the same schema: this project (gunicorn, 2 gevent workers), plain Flask
(gunicorn, 2 gevent workers) and FastAPI (uvicorn, 2 workers, async endpoints with a threadpool), each on its own
copy of one SQLite file at synchronous=NORMAL: a session of 1,000 messages to read the newest 50 of, an empty one
to append to.

For each server and route, wrk (-t2 -c16) sends requests for a fixed time, and the CPU time (utime + stime, from
/proc/PID/stat) its worker processes spent meanwhile, over the requests answered, is its CPU per request. CPU time
rather than requests per second: the client shares the machine, and wall-clock figures drift with whatever else
runs; CPU time much less. The servers run side by side, are measured one at a time, in an order that rotates round
by round, and each figure is the median of its rounds.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from backend.settings import PROJECT_ROOT
from bench.fixtures import BenchDatabase
from tests.servers import Server, free_port, server_env

READ_SESSION, APPEND_SESSION = "peer-read-00000", "peer-append-000"
ROUTES = ("POST", "GET-50", "healthz")
POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"role": "user", "content": "hello over http"}'
"""
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class PeerServer:
    """A server started by `command` in a process group of its own, on a free loopback port."""

    def __init__(self, name: str, command: list[str], database: Path, log: Path, cwd: Path = PROJECT_ROOT, **env):
        self.name, self.port = name, free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.command = [part.format(port=self.port) for part in command]
        self.env = {**server_env(f"sqlite:///{database}", **env), "PEER_DB_PATH": str(database), "PORT": str(self.port)}
        self.log, self.process, self.cwd = log, None, cwd

    def start(self, workers: int = 2, timeout_s: float = 30.0) -> PeerServer:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).ok and len(worker_pids(self)) >= workers:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not serve within {timeout_s} s:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def worker_pids(server) -> list[int]:
    """Every process under the server's master (its workers, and theirs), the master left out."""
    found, pending = [], [server.process.pid]
    while pending:
        pid = pending.pop()
        try:
            children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            children = []
        found += children
        pending += children
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of proc(5)
    return ticks / TICKS_PER_S


def seeded_copies(workdir: Path, names: list[str]) -> dict[str, Path]:
    """One migrated, seeded SQLite file per server, all copies of the same."""
    template = BenchDatabase("sqlite", workdir, None)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    template.fill([(READ_SESSION, now), (APPEND_SESSION, now)], {READ_SESSION: 1000})
    template.engine.dispose()
    source = Path(template.url.removeprefix("sqlite:///"))
    with sqlite3.connect(source) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copies = {}
    for name in names:
        copies[name] = workdir / f"{name.replace(' ', '-')}.db"
        shutil.copyfile(source, copies[name])
    return copies


def _wrk(wrk: str, server, route: str, seconds: int) -> int:
    """Requests answered in one wrk run of `route` (RuntimeError on any non-2xx answer)."""
    url = {
        "POST": f"{server.base_url}/api/v1/sessions/{APPEND_SESSION}/messages",
        "GET-50": f"{server.base_url}/api/v1/sessions/{READ_SESSION}/messages?limit=50",
        "healthz": f"{server.base_url}/healthz",
    }[route]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(POST_SCRIPT if route == "POST" else "")
        script.flush()
        command = [wrk, "-t2", "-c16", f"-d{seconds}s", "-s", script.name, url]
        out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{server.name} {route}: answers that are not 2xx:\n{out}")
    return int(re.search(r"(\d+) requests in", out).group(1))


def measure(wrk: str, server, route: str, seconds: int) -> float:
    """CPU milliseconds per request of `server`'s workers over one wrk run of `route`."""
    pids = worker_pids(server)
    before = cpu_seconds(pids)
    answered = _wrk(wrk, server, route, seconds)
    return (cpu_seconds(pids) - before) * 1000 / answered


def start_servers(workdir: Path) -> list:
    """The three servers, serving; and with PEER_CPU_BEFORE=<another checkout of this project>, that one too (a
    before and after in the same run: `git worktree add /tmp/before <commit>`)."""
    python = sys.executable
    before = os.environ.get("PEER_CPU_BEFORE")
    databases = seeded_copies(workdir, ["this project", "plain Flask", "FastAPI", *(["before"] if before else [])])
    ours = Server(f"sqlite:///{databases['this project']}", workdir / "project.log", SQLITE_SYNCHRONOUS="NORMAL")
    ours.name = "this project"
    flask = PeerServer(
        "plain Flask",
        [python, "-m", "gunicorn", "-w", "2", "-k", "gevent", "-b", "127.0.0.1:{port}", "bench.peers.flask_plain:app"],
        databases["plain Flask"],
        workdir / "flask.log",
    )
    fastapi = PeerServer(
        "FastAPI",
        [python, "-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1", "--port", "{port}", "--loop", "uvloop"]
        + ["--http", "httptools", "--no-access-log", "--log-level", "warning", "bench.peers.fastapi_app:app"],
        databases["FastAPI"],
        workdir / "fastapi.log",
    )
    servers = [ours, flask, fastapi]
    if before:
        command = [python, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "wsgi:app"]
        servers.append(
            PeerServer(
                f"this project at {before}",
                command,
                databases["before"],
                workdir / "before.log",
                cwd=Path(before),
                HOST="127.0.0.1",
                WEB_CONCURRENCY="2",
                SQLITE_SYNCHRONOUS="NORMAL",
            )
        )
    started = []
    try:
        for server in servers:
            started.append(server.start())
    except BaseException:
        for server in started:
            server.stop()
        raise
    return started


def peer_cpu(seconds: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """{server: {route: CPU ms per request of each round}}."""
    from bench.http import ensure_wrk

    try:
        wrk = ensure_wrk()
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(f"wrk is missing and could not be installed (apt-get install wrk): {error}") from None
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as workdir:
        servers = start_servers(Path(workdir))
        try:
            for server in servers:  # warm-up: first requests import and compile what the rest reuse
                for route in ROUTES:
                    _wrk(wrk, server, route, 1)
            figures = {server.name: {route: [] for route in ROUTES} for server in servers}
            for number in range(rounds):
                turn = number % len(servers)
                for server in servers[turn:] + servers[:turn]:
                    for route in ROUTES:
                        ms = measure(wrk, server, route, seconds)
                        figures[server.name][route].append(ms)
                        print(f"round {number + 1}: {server.name} {route} {ms:.4f} ms CPU/request", file=sys.stderr)
        finally:
            for server in servers:
                server.stop()
    return figures


def peer_cpu_cases(seconds: float, rounds: int) -> list[dict]:
    """Rows: this project's CPU per request over FastAPI's (issue 23's target: at most 1.0), plain Flask's beside."""
    runs = peer_cpu(max(1, int(seconds)), rounds)
    medians = {
        name: {route: statistics.median(ms) for route, ms in by_route.items()} for name, by_route in runs.items()
    }
    ours, fastapi, flask = medians["this project"], medians["FastAPI"], medians["plain Flask"]
    rows = []
    for route in ROUTES:
        ratio = round(ours[route] / fastapi[route], 3)
        rows.append(
            {
                "case": f"server CPU per request vs FastAPI (async + threadpool), {route}",
                "target": "<= 1.0",
                "candidate_ms": round(ours[route], 4),
                "reference_ms": round(fastapi[route], 4),
                "ratio": ratio,
                "ok": ratio <= 1.0,
                "detail": f"plain Flask {flask[route]:.4f} ms, {ours[route] / flask[route]:.2f}x"
                + "".join(
                    f"; {name} {ms[route]:.4f} ms" for name, ms in medians.items() if name.startswith("this project at")
                ),
                "rounds_ms": {name: [round(ms, 4) for ms in by_route[route]] for name, by_route in runs.items()},
            }
        )
    return rows


if __name__ == "__main__":
    for row in peer_cpu_cases(
        float(sys.argv[1]) if len(sys.argv) > 1 else 5, int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ):
        print(row)
