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


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def on_starting(server) -> None:
    """Refuse to serve beyond loopback unless AUTH_MODE was chosen explicitly.

    AUTH_MODE defaults to none, where knowing a session id is all it takes: right for a developer's
    machine, an accident anywhere else. Listening on another address (HOST, --bind) therefore
    needs AUTH_MODE=jwt, or AUTH_MODE=none said out loud for a trusted network.
    """
    if os.environ.get("AUTH_MODE"):
        return
    exposed = [f"{a[0]}:{a[1]}" for a in server.cfg.address if isinstance(a, tuple) and not _loopback(a[0])]
    if exposed:
        raise SystemExit(
            f"refusing to listen on {', '.join(exposed)} with AUTH_MODE unset: set AUTH_MODE=jwt "
            "(or AUTH_MODE=none for a trusted network)"
        )

def when_ready(server):
    """At start, in the master: warn when PostgreSQL acknowledges commits before they are durable."""
    from backend.settings import database_url_from_env
    from backend.store.engines import warn_at_start_if_commits_are_not_durable

    warn_at_start_if_commits_are_not_durable(database_url_from_env())
