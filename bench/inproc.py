"""The hot paths in-process, with no HTTP server: `python -m bench.inproc [--requests N] [--counter LIB] CASE...`.

Each case is one request (or service call) repeated: `post` (append a message), `get-50` (the newest 50 of a
1,000-message session), `healthz` go through the production WSGI app (`wsgi:app`, APP_ENV=production, SQLite at
synchronous=NORMAL, metrics in multiprocess mode as under gunicorn); `turn` is a whole turn through ChatService and
`resume` the read of an ended turn's events after its first (what a worker that does not run a turn reads when a
client resumes); `service-append`, `raw-append`, `service-read-50`, `raw-read-50` call SessionService and
bench.raw's sqlite3 reference directly. Every case is
warmed up first. With --counter (the library built from bench/callgrind_control.c, under valgrind's callgrind),
only the repeated calls are counted, one callgrind dump per case named after it; without, the process CPU time
per call is printed.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

READ_SESSION = "bench-read-0000"  # 1,000 messages
APPEND_SESSION = "bench-append-00"  # empty at the start
SERVICE_SESSION, RAW_SESSION = "bench-service-0", "bench-raw-00000"
TURN_SESSION = "bench-turn-0000"  # a conversation turn per call: the user's message in, the reply out
RESUME_SESSION = "bench-resume-00"  # one ended turn, read back per call as a resume on another worker reads it
POST_BODY = b'{"role": "user", "content": "hello over http"}'
WSGI_CASES = ("post", "get-50", "healthz")
TURN_CASES = ("turn", "resume")
SERVICE_CASES = ("service-append", "raw-append", "service-read-50", "raw-read-50")
CASES = WSGI_CASES + TURN_CASES + SERVICE_CASES


def production_environment(workdir: Path) -> dict[str, str]:
    """The settings a server runs with, set before anything of the app is imported (the database comes later)."""
    metrics = workdir / "metrics"
    metrics.mkdir()
    return {
        "APP_ENV": "production",
        "SQLITE_SYNCHRONOUS": "NORMAL",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "INFO",
    }


def filled_database(workdir: Path) -> str:
    """A migrated SQLite file: one session of 1,000 messages to read, three empty ones to append to; its URL."""
    from bench.fixtures import BenchDatabase

    db = BenchDatabase("sqlite", workdir, None)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    db.fill(
        [
            (sid, now)
            for sid in (READ_SESSION, APPEND_SESSION, SERVICE_SESSION, RAW_SESSION, TURN_SESSION, RESUME_SESSION)
        ],
        {READ_SESSION: 1000},
    )
    db.engine.dispose()
    return db.url


def wsgi_call(app, method: str, path: str, query: str = "", body: bytes = b"", expect: str = "200") -> Callable:
    """One request through `app`'s WSGI callable with a prebuilt environ, as a server would hand it over."""
    from werkzeug.test import EnvironBuilder

    headers = {"Content-Type": "application/json"} if body else {}
    base = EnvironBuilder(path, method=method, query_string=query, headers=headers, data=body).get_environ()
    base["REMOTE_ADDR"] = "127.0.0.1"
    answered = []

    def start_response(status, headers, exc_info=None):
        answered.append(status)

    def call():
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(body)
        answered.clear()
        chunks = app(environ, start_response)
        b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
        if not answered[0].startswith(expect):
            raise RuntimeError(f"{method} {path}: {answered[0]}, not {expect}")

    return call


def build_cases(url: str) -> dict[str, Callable[[], object]]:
    """Every case, ready to call (the app built as wsgi.py builds it)."""
    from backend.services.session import SessionService
    from backend.services.turns.service import ChatService
    from bench.raw import RawStore
    from wsgi import app

    messages = "/api/v1/sessions/{}/messages"
    service, raw = SessionService(url), RawStore(url)
    chat = ChatService(service, agent=lambda request: "hello back")  # an instant agent: the turn's own work
    resumed = chat.chat(RESUME_SESSION, "hello").turn_id
    return {
        "post": wsgi_call(app, "POST", messages.format(APPEND_SESSION), body=POST_BODY, expect="201"),
        "get-50": wsgi_call(app, "GET", messages.format(READ_SESSION), query="limit=50"),
        "healthz": wsgi_call(app, "GET", "/healthz"),
        "turn": lambda: chat.chat(TURN_SESSION, "hello"),
        "resume": lambda: list(service.turn_events(RESUME_SESSION, resumed, 1)),
        "service-append": lambda: service.save_message(SERVICE_SESSION, "user", "hello there"),
        "raw-append": lambda: raw.append(RAW_SESSION, "user", "hello there"),
        "service-read-50": lambda: service.get_chat_history(READ_SESSION, limit=50),
        "raw-read-50": lambda: raw.history(READ_SESSION, 50),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inproc", description=__doc__)
    parser.add_argument("cases", nargs="+", choices=CASES)
    parser.add_argument("--requests", type=int, default=100, help="calls counted per case")
    parser.add_argument("--warm", type=int, default=50, help="calls before counting starts")
    parser.add_argument("--counter", help="the library built from bench/callgrind_control.c")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-inproc-") as workdir:
        os.environ.update(production_environment(Path(workdir)))
        os.environ["DATABASE_URL"] = filled_database(Path(workdir))
        cases = build_cases(os.environ["DATABASE_URL"])
        counter = ctypes.CDLL(args.counter) if args.counter else None
        for name in args.cases:
            call = cases[name]
            for _ in range(args.warm):
                call()
            started = time.process_time()
            if counter:
                counter.count_from_here()
            for _ in range(args.requests):
                call()
            if counter:
                counter.dump_counts(name.encode())
            per_call_ms = (time.process_time() - started) * 1000 / args.requests
            print(f"{name} {per_call_ms:.4f} ms CPU per call", file=sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
