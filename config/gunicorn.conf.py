"""gunicorn settings from the environment: HOST, PORT, WEB_CONCURRENCY, GUNICORN_THREADS; access log to stdout."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A sync worker is busy for a whole agent call. With a slow real agent, GUNICORN_THREADS > 1
# (gunicorn's gthread worker) keeps other requests served meanwhile; with the echo agent the
# sync worker measured faster (docs/performance.md).
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
accesslog = "-"
errorlog = "-"
# Above the longest a turn may legitimately take (the agent, plus a SQLite busy wait on each of
# its two writes), so that a slow turn ends in our 502 or 503, never in a killed worker.
timeout = int(
    float(os.environ.get("AGENT_TIMEOUT_S", "30")) + 2 * float(os.environ.get("SQLITE_BUSY_TIMEOUT_S", "30")) + 30
)
graceful_timeout = 30
# No preload: each worker imports the app itself, so no engine or socket is ever shared
# across fork (backend.db keys engines by process id as a second guard).
preload_app = False


def when_ready(server):
    """At start, in the master: warn when PostgreSQL acknowledges commits before they are durable."""
    from backend.settings import database_url_from_env
    from backend.store.engines import warn_at_start_if_commits_are_not_durable

    warn_at_start_if_commits_are_not_durable(database_url_from_env())
