"""The serving model, measured in one run: gunicorn's sync, gthread and gevent workers on the database routes (wrk)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import requests

from bench.http import _wrk, ensure_wrk
from tests.servers import Server, migrate

# (label, settings); 2 workers each, as `make run` starts them.
MODELS = (
    ("sync", {"GUNICORN_WORKER_CLASS": "sync"}),
    ("gthread 2x8", {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "8"}),
    ("gevent", {"GUNICORN_WORKER_CLASS": "gevent"}),
)


def measure_model(database_url: str, settings: dict, seconds: float, wrk: str) -> dict:
    """/healthz, POST and GET-50 messages under one worker class: {route: wrk result}."""
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as workdir:
        server = Server(
            database_url,
            Path(workdir) / "server.log",
            workers=2,
            extra_args=("--access-logfile", "/dev/null"),
            **settings,
        ).start()
        try:
            base = server.base_url
            session_id = requests.post(f"{base}/api/v1/sessions", json={}, timeout=10).json()["session_id"]
            messages = f"{base}/api/v1/sessions/{session_id}/messages"
            for i in range(100):
                requests.post(messages, json={"role": "user", "content": f"seed {i}"}, timeout=10)
            for i in range(SPREAD_SESSIONS):
                requests.post(f"{base}/api/v1/sessions", json={"session_id": f"spread-{i}"}, timeout=10)
            return {
                "healthz": _wrk(wrk, f"{base}/healthz", seconds, None),
                "POST": _wrk(wrk, messages, seconds, POST_SCRIPT),
                "POST-spread": _wrk(wrk, f"{base}/", seconds, SPREAD_POST_SCRIPT),
                "GET-50": _wrk(wrk, f"{messages}?limit=50", seconds, None),
            }
        finally:
            server.stop()


def _median(results: list[dict]) -> dict:
    """The median of each figure over rounds."""
    return {key: statistics.median(result[key] for result in results) for key in results[0]}


POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"role": "user", "content": "hello over http"}'
"""


# Appends spread over this many sessions: what many users do at once. "POST" appends to one
# session, which serialises every write on one row.
SPREAD_SESSIONS = 100
SPREAD_POST_SCRIPT = (
    POST_SCRIPT
    + f"""
request = function()
  return wrk.format(nil, "/api/v1/sessions/spread-" .. math.random(0, {SPREAD_SESSIONS - 1}) .. "/messages")
end
"""
)


ROUTE_NAMES = {
    "POST": "POST messages, one session",
    "POST-spread": f"POST messages, {SPREAD_SESSIONS} sessions",
    "GET-50": "GET-50 messages",
}


def serving_cases(database_url: str, seconds: float, rounds: int = 1) -> tuple[list[dict], dict]:
    """Rows: gevent (the default) against sync on each database route, same run; and every model's figures.

    The models alternate round by round and each figure is the median of its rounds: on a shared
    machine the load drifts, and alternation exposes every model to the same drift.
    """
    migrate(database_url)
    wrk = ensure_wrk()
    runs = [
        {label: measure_model(database_url, settings, seconds, wrk) for label, settings in MODELS}
        for _ in range(rounds)
    ]
    figures = {
        label: {route: _median([run[label][route] for run in runs]) for route in runs[0][label]} for label, _ in MODELS
    }
    rows = []
    for route in ("POST", "POST-spread", "GET-50"):
        gevent, sync = figures["gevent"][route], figures["sync"][route]
        ratio = round(gevent["rps"] / sync["rps"], 3)
        rows.append(
            {
                "case": f"serving: gevent vs sync, HTTP {ROUTE_NAMES[route]} (wrk -c16)",
                "target": ">= 1.0 (no slower)",
                "candidate_per_s": round(gevent["rps"]),
                "reference_per_s": round(sync["rps"]),
                "ratio": ratio,
                "p50_ms": gevent["p50_ms"],
                "p99_ms": gevent["p99_ms"],
                "non_2xx": gevent["non_2xx"] + sync["non_2xx"],
                "ok": ratio >= 1.0 and gevent["non_2xx"] == 0,
                "detail": "; ".join(
                    f"{label} {round(figures[label][route]['rps'])}/s p99 {figures[label][route]['p99_ms']} ms"
                    for label, _ in MODELS
                ),
                "models": {label: figures[label][route] for label, _ in MODELS},
            }
        )
    return rows, figures


if __name__ == "__main__":
    import json
    import sys

    rows, figures = serving_cases(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 5)
    print(json.dumps(figures, indent=1))
    print(json.dumps(rows, indent=1))
