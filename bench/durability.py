"""`python -m bench.durability [--seconds S] [--rounds R]`: the HTTP cost of SQLITE_SYNCHRONOUS=FULL against NORMAL.

Two gunicorn servers (2 sync workers each) on SQLite files in one directory of the same disk, one
per level, driven by wrk (POST .../messages, 2 threads, 16 connections) in alternating rounds, so
that both levels see the same machine; the median of the rounds is reported, NORMAL as reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from backend.settings import PROJECT_ROOT
from bench.http import POST_SCRIPT, _wait_ready, _wrk, ensure_wrk, free_port

LEVELS = ("NORMAL", "FULL")


def _serve(directory: Path, level: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{directory / level.lower()}.db",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "APP_ENV": "production",
        "SQLITE_SYNCHRONOUS": level,
    }
    env.pop("ADMIN_TOKEN", None)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "config/gunicorn.conf.py",
            "--access-logfile",
            "/dev/null",
            "wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(base)
    session_id = requests.post(f"{base}/api/v1/sessions", json={}, timeout=10).json()["session_id"]
    return server, f"{base}/api/v1/sessions/{session_id}/messages"


def sync_levels_over_http(seconds: float, rounds: int, directory: Path | None = None) -> list[dict]:
    """Rows: POST .../messages per second with FULL, against NORMAL, in alternating rounds of one run."""
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-sync-", dir=directory) as workdir:
        servers, results = {}, {level: [] for level in LEVELS}
        try:
            for level in LEVELS:
                servers[level] = _serve(Path(workdir), level)
            for _ in range(rounds):
                for level in LEVELS:
                    results[level].append(_wrk(wrk, servers[level][1], seconds, POST_SCRIPT))
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)
    median = {level: statistics.median(r["rps"] for r in results[level]) for level in LEVELS}
    p99 = {level: statistics.median(r["p99_ms"] for r in results[level]) for level in LEVELS}
    errors = sum(r["non_2xx"] for level in LEVELS for r in results[level])
    ratio = round(median["FULL"] / median["NORMAL"], 3)
    return [
        {
            "case": "HTTP POST .../messages, SQLITE_SYNCHRONOUS=FULL vs NORMAL",
            "target": "report",
            "candidate_per_s": round(median["FULL"]),
            "reference_per_s": round(median["NORMAL"]),
            "ratio": ratio,
            "p50_ms": statistics.median(r["p50_ms"] for r in results["FULL"]),
            "p99_ms": p99["FULL"],
            "reference_p99_ms": p99["NORMAL"],
            "rounds": {level: [round(r["rps"]) for r in results[level]] for level in LEVELS},
            "non_2xx": errors,
            "ok": errors == 0,
        }
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="where the databases live (default: the system's temporary directory)")
    args = parser.parse_args(argv)
    for row in sync_levels_over_http(args.seconds, args.rounds, args.dir):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
