"""Each gunicorn worker listens on a socket of its own (SO_REUSEPORT), so that the kernel, not a race to
accept, shares new connections between them; a port another server listens on is refused."""

from __future__ import annotations

import asyncio
import json
import runpy
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from backend.settings import PROJECT_ROOT
from bench.aclient import request
from tests.servers import Server, migrate, server_env

pytestmark = pytest.mark.slow

LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp


def listening_sockets(port: int) -> int:
    """How many sockets listen on `port` over IPv4 (one line each in /proc/net/tcp)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if int(line.split()[1].rsplit(":", 1)[1], 16) == port and line.split()[3] == LISTEN)


@pytest.fixture
def server(tmp_path):
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    migrate(url)
    served = Server(url, tmp_path / "gunicorn.log", LOG_FORMAT="json").start(timeout_s=60)
    try:
        yield served
    finally:
        served.stop()


def test_each_worker_has_its_own_socket_and_a_burst_of_connections_reaches_both(server):
    assert listening_sockets(server.port) == 2  # one shared socket would be 1

    async def burst():
        return await asyncio.gather(*[request("127.0.0.1", server.port, "GET", "/healthz") for _ in range(200)])

    assert [status for status, _, _ in asyncio.run(burst())] == [200] * 200
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    served_by = Counter(line["process"] for line in lines if line.get("route") == "/healthz")
    # The kernel hashes each connection to a socket: two workers each get about half (on a shared
    # socket one worker took 67-88% of a burst of 200 turns in 6 of 17 runs).
    assert set(served_by) == set(server.worker_pids())
    assert min(served_by.values()) >= 50, served_by


def test_a_second_server_on_the_same_port_is_refused_and_the_first_keeps_serving(server, tmp_path):
    env = server_env(server.database_url, HOST="127.0.0.1", PORT=str(server.port))
    second = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}: Address already in use" in second.stderr
    assert listening_sockets(server.port) == 2
    assert requests.get(f"{server.base_url}/healthz", timeout=10).status_code == 200


def per_worker_sockets_hook(monkeypatch):
    # As in test_open_by_accident: the config would set the metrics directory for this whole process,
    # and with gevent's worker class monkey-patch it.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="metrics-"))
    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "sync")
    return runpy.run_path(str(PROJECT_ROOT / "config" / "gunicorn.conf.py"))["_listen_in_each_worker_where_possible"]


@pytest.mark.parametrize("addresses", [["/run/sessions.sock"], [("127.0.0.1", 0)]])
def test_a_unix_socket_or_a_port_chosen_by_the_kernel_keeps_one_shared_socket(monkeypatch, addresses):
    settings = {"reuse_port": True}
    server = SimpleNamespace(cfg=SimpleNamespace(address=addresses, set=settings.__setitem__))
    per_worker_sockets_hook(monkeypatch)(server)
    assert settings["reuse_port"] is False
