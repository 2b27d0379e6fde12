"""Real gunicorn servers on loopback for the end-to-end and reliability tests: migrate as an operator would, start,
kill, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from backend.settings import PROJECT_ROOT

# Settings a developer's shell may carry that would change what the server does.
_SCRUBBED = (
    "DATABASE_URL",
    "SESSION_DB_PATH",
    "ADMIN_TOKEN",
    "CORS_ORIGINS",
    "CHAT_AGENT",
    "CHAT_AGENT_URL",
    "AGENT_TIMEOUT_S",
    "MAX_CONTENT_LENGTH",
    "APP_ENV",
    "WEB_CONCURRENCY",
    "HOST",
    "PORT",
    "AUTH_MODE",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY",
    "JWT_JWKS_URL",
    "JWT_AUDIENCE",
    "JWT_ISSUER",
    "JWT_ADMIN_SCOPE",
    "RATE_LIMIT_READS",
    "RATE_LIMIT_WRITES",
    "RATE_LIMIT_TURNS",
    "RATE_LIMIT_STORAGE_URL",
    "RATE_LIMIT_KEY_PREFIX",
    "MAX_PAGE_BYTES",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "PROMETHEUS_MULTIPROC_DIR",
    "SQLITE_SYNCHRONOUS",
    "MIN_FREE_DISK_MB",
    "IDEMPOTENCY_TTL_S",
    "TURN_LEASE_S",
    "TURN_EVENTS_TTL_S",
    "MAX_AGENT_CALLS",
    "CLIENT_TIMEOUT_S",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS",
    "WORKER_CONNECTIONS",
    "GUNICORN_CONTROL_SOCKET",
)


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a server process: ours minus app settings, plus the database and `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update({"DATABASE_URL": database_url, "APP_ENV": "production", "PYTHONUNBUFFERED": "1"}, **settings)
    return env


def run_probe(module: str, database_url: str) -> dict:
    """`python -m module database_url` in a subprocess with a server's environment; the JSON it prints."""
    result = subprocess.run(
        [sys.executable, "-m", module, database_url],
        cwd=PROJECT_ROOT,
        env=server_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def migrate(database_url: str) -> None:
    """`python -m alembic upgrade head` in a subprocess, as an operator runs it before starting the server."""
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        env=server_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"alembic upgrade head failed:\n{result.stdout}\n{result.stderr}"


class Server:
    """One gunicorn master and its workers, in a process group of their own."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        workers: int = 2,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        **settings: str,
    ):
        self.database_url = database_url
        self.log_path = log_path
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.extra_args = extra_args
        self.env = server_env(
            database_url, HOST="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(workers), **settings
        )
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> Server:
        """Start gunicorn and wait until every worker can answer /healthz."""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "config/gunicorn.conf.py",
            *self.extra_args,
            "wsgi:app",
        ]
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()
        self.wait_until_serving(timeout_s)
        return self

    def wait_until_serving(self, timeout_s: float = 30.0) -> None:
        """Poll /healthz until it answers and all workers are up; fail with the log when the master exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if (
                    requests.get(self.base_url + "/healthz", timeout=2).status_code == 200
                    and len(self.worker_pids()) >= self.workers
                ):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not serve within {timeout_s} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The pids of the master's current workers (its children)."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in children.split()]

    def kill_worker(self) -> int:
        """SIGKILL one worker (the master starts a replacement); its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def replace_workers(self, timeout_s: float = 30.0) -> None:
        """SIGKILL every worker and wait until the master has started as many new ones, serving."""
        old = set(self.worker_pids())
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            current = set(self.worker_pids())
            if len(current) >= self.workers and not current & old:
                break
            time.sleep(0.05)
        self.wait_until_serving(max(deadline - time.monotonic(), 1.0))

    def kill_all(self) -> None:
        """SIGKILL the master and every worker at once, as a power cut would."""
        pids = [self.process.pid, *self.worker_pids()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        _wait_gone(pids[1:])

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL to whatever is left of the group after 10 s."""
        if self.process is None:
            return
        workers = self.worker_pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _wait_gone(workers)

    def log_text(self) -> str:
        """Everything the server logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        return "\n".join(self.log_text().splitlines()[-lines:])


def _wait_gone(pids: list[int], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            status = Path(f"/proc/{pid}/status")
            try:
                if "zombie" in status.read_text():
                    break
            except OSError:
                break
            time.sleep(0.05)
