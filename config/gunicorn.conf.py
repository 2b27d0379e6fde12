"""gunicorn settings from the environment: HOST, PORT, WEB_CONCURRENCY, GUNICORN_WORKER_CLASS, GUNICORN_THREADS,
CLIENT_TIMEOUT_S; access log to stdout."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gevent: a turn waits on its agent (1 to 30 s) and on its client without holding a worker, so
# 200 concurrent turns and the health checks share two workers (docs/performance.md, "Serving model").
# psycopg 3 cooperates with gevent by itself once gevent has patched `select`, which the worker does
# before it imports the app; SQLite's busy waits are made cooperative in backend/store/engines.py.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# Only the gthread worker uses threads (GUNICORN_WORKER_CLASS=gthread).
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Slow clients: under gevent a request's line and headers must arrive within `keepalive` seconds
# (an idle connection is closed then too); the app bounds the body the same way (CLIENT_TIMEOUT_S).
keepalive = max(1, round(float(os.environ.get("CLIENT_TIMEOUT_S", "5"))))
accesslog = "-"
errorlog = "-"
# Above the longest a turn may legitimately take (the agent, plus a SQLite busy wait on each of
# its two writes), so that a slow turn ends in our 502 or 503, never in a killed worker.
timeout = int(
    float(os.environ.get("AGENT_TIMEOUT_S", "30")) + 2 * float(os.environ.get("SQLITE_BUSY_TIMEOUT_S", "30")) + 30
)
graceful_timeout = 30
# No preload: each worker imports the app itself (after gevent patched the standard library), so no
# engine or socket is ever shared across fork (backend.db keys engines by process id as a second guard).
preload_app = False


def post_worker_init(worker):
    """The app's own log lines (logger `backend`: agent_call, turn, slow_client) go to stdout beside the access log."""
    import logging
    import sys

    app_log = logging.getLogger("backend")
    if not app_log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                                               "%Y-%m-%d %H:%M:%S %z"))
        app_log.addHandler(handler)
        app_log.setLevel(logging.INFO)
        app_log.propagate = False
