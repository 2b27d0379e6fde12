"""gunicorn settings from the environment: HOST, PORT, WEB_CONCURRENCY, GUNICORN_WORKER_CLASS, GUNICORN_THREADS,
WORKER_CONNECTIONS, CLIENT_TIMEOUT_S, GUNICORN_CONTROL_SOCKET; our logs and metrics."""

import os

if os.environ.get("GUNICORN_WORKER_CLASS", "gevent") == "gevent":
    # Patched before anything else is imported: the master imports the app's settings, the agent
    # (urllib3, ssl) and logging to check them, and its workers inherit those modules. Patching
    # only in each worker, as gunicorn does, comes too late for ssl (gevent's MonkeyPatchWarning).
    from gevent import monkey

    monkey.patch_all()

from backend.observability.logs import logging_config  # noqa: E402
from config import hooks  # noqa: E402 - after the patch
from config.workers import json_errors  # noqa: E402

# Metrics in prometheus-client's multiprocess mode: set before anything imports prometheus_client.
hooks.metrics_directory()

# Numbers are read leniently here; on_starting refuses a bad one in one line, before any fork.
number = hooks.number
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{int(number('PORT', 8000))}"
workers = int(number("WEB_CONCURRENCY", 2))
# gevent: a turn waits on its agent (1 to 30 s) and on its client without holding a worker, so
# 200 concurrent turns and the health checks share two workers (docs/performance.md, "Serving model").
# psycopg 3 cooperates with gevent by itself once gevent has patched `select`, which the worker does
# before it imports the app; SQLite's busy waits are made cooperative in backend/store/sqlite_writes.py.
# The name is read again above, before the patch. The class is gunicorn's own, subclassed in config/workers.py
# so that the errors gunicorn answers itself (400, 414, 431...) are JSON like the app's.
worker_class = json_errors(os.environ.get("GUNICORN_WORKER_CLASS", "gevent"), number("GUNICORN_THREADS", 1))
worker_connections = int(number("WORKER_CONNECTIONS", 1000))
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
# evenly across them. On one shared socket the workers race to accept: in bursts of 200 turns one
# worker took 134-176 of them in 6 of 17 runs, and the last of its turns reached the agent up to
# 0.26 s after the other worker's (docs/performance.md, "Serving model"). on_starting falls back to
# one shared socket where per-worker ones cannot work (a Unix socket, sockets handed over by systemd).
reuse_port = True
# Only the gthread worker uses threads (GUNICORN_WORKER_CLASS=gthread).
threads = int(number("GUNICORN_THREADS", 1))
# Slow clients: under gevent a request's line and headers must arrive within `keepalive` seconds
# (an idle connection is closed then too); the app bounds the body the same way (CLIENT_TIMEOUT_S).
keepalive = max(1, round(number("CLIENT_TIMEOUT_S", 5)))
# gunicorn's own lines go through our handler and format (LOG_FORMAT); the app writes one access
# line per request itself (backend.access, with the request id), so gunicorn's is off.
accesslog = None
logger_class = "config.logger.Logger"  # ...and gunicorn builds its line's fields only when it would write them
errorlog = "-"
try:
    logconfig_dict = logging_config()
except ValueError:  # a bad LOG_FORMAT or LOG_LEVEL: on_starting says so in one line
    logconfig_dict = logging_config("text", "INFO")
# Above the longest a turn may legitimately take (the agent, plus a SQLite busy wait on each of
# its two writes), so that a slow turn ends in our 502 or 503, never in a killed worker.
timeout = int(number("AGENT_TIMEOUT_S", 30) + 2 * number("SQLITE_BUSY_TIMEOUT_S", 30) + 30)
graceful_timeout = 30
# gunicorn 25+ opens a control socket (for `gunicornc`) at one path per user by default, ~/.gunicorn/gunicorn.ctl:
# every instance on the machine bound that same file, and the first to stop removed it while 7 others still
# ran. None unless GUNICORN_CONTROL_SOCKET names a path, which must then be this instance's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or ""
control_socket_disable = not control_socket
# No preload: each worker imports the app itself (after gevent patched the standard library), so no
# engine or socket is ever shared across fork (backend.db keys engines by process id as a second guard).
preload_app = False


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def _refuse_open_by_accident(server) -> None:
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


def _listen_in_each_worker_where_possible(server) -> None:
    """Per-worker sockets (reuse_port) for TCP addresses only; and a TCP address that something
    already listens on is refused, since with SO_REUSEPORT a second server of the same user would
    share the port with the first, silently, instead of failing to bind."""
    import socket

    tcp = [a for a in server.cfg.address if isinstance(a, tuple) and a[1]]
    if "LISTEN_FDS" in os.environ or len(tcp) < len(server.cfg.address):
        server.cfg.set("reuse_port", False)
        return
    for host, port in tcp:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a stopped server's TIME_WAIT is no conflict
            try:
                probe.bind((host.strip("[]"), port))
            except OSError as exc:
                raise SystemExit(
                    f"cannot listen on {host}:{port}: {exc.strerror} (is another server running?)"
                ) from None


def when_ready(server):
    """At start, in the master: say where the workers listen (gunicorn's own line has no address when
    each worker has its socket); warn when PostgreSQL acknowledges commits before they are durable."""
    from backend.settings import database_url_from_env
    from backend.store.engines import warn_at_start_if_commits_are_not_durable

    if server.cfg.reuse_port:
        addresses = ", ".join(f"http://{host}:{port}" for host, port in server.cfg.address)
        server.log.info("Listening at: %s (a socket in each worker)", addresses)
    warn_at_start_if_commits_are_not_durable(database_url_from_env())


def on_starting(server):
    """Before forking: every setting checked once (one line and exit 1 if bad), no open listening by
    accident, no port shared with another server; last run's metric files removed."""
    hooks.exit_on_bad_settings()
    _refuse_open_by_accident(server)
    _listen_in_each_worker_where_possible(server)
    hooks.clear_metrics_directory(server.cfg.uid, server.cfg.gid)


def post_worker_init(worker):
    """A worker has loaded the app: what it holds now lives as long as the worker (hooks.freeze_loaded_objects)."""
    hooks.freeze_loaded_objects()


def child_exit(server, worker):
    """A worker is gone: its live gauges stop counting."""
    hooks.mark_worker_dead(worker.pid)


def on_exit(server):
    """The master stops: a metrics directory made for this run goes with it."""
    hooks.remove_own_metrics_directory()
