"""AUTH_MODE none is never open by accident: gunicorn refuses to listen beyond loopback unless AUTH_MODE is set."""

from __future__ import annotations

import runpy
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import pytest

from backend.settings import PROJECT_ROOT
from tests.servers import free_port, server_env

pytestmark = pytest.mark.slow


def hook(monkeypatch, auth_mode: str | None):
    # Loading the config would set PROMETHEUS_MULTIPROC_DIR for this whole process: set here instead,
    # so that it is undone after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="metrics-"))
    # ...and with gevent's worker class it would monkey-patch this test process.
    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "sync")
    if auth_mode is None:
        monkeypatch.delenv("AUTH_MODE", raising=False)
    else:
        monkeypatch.setenv("AUTH_MODE", auth_mode)
    return runpy.run_path(str(PROJECT_ROOT / "config" / "gunicorn.conf.py"))["_refuse_open_by_accident"]


def listening_on(*addresses):
    return SimpleNamespace(cfg=SimpleNamespace(address=list(addresses)))


@pytest.mark.parametrize("address", [("0.0.0.0", 8000), ("::", 8000), ("10.1.2.3", 80), ("api.example.com", 80)])
def test_an_address_beyond_loopback_needs_auth_mode_set(monkeypatch, address):
    with pytest.raises(SystemExit, match="AUTH_MODE"):
        hook(monkeypatch, None)(listening_on(("127.0.0.1", 8000), address))
    hook(monkeypatch, "none")(listening_on(address))  # said out loud: a trusted network
    hook(monkeypatch, "jwt")(listening_on(address))


@pytest.mark.parametrize("address", [("127.0.0.1", 8000), ("::1", 8000), ("localhost", 8000), "/run/sessions.sock"])
def test_loopback_and_unix_sockets_need_nothing(monkeypatch, address):
    hook(monkeypatch, None)(listening_on(address))


def test_gunicorn_exits_instead_of_listening_on_every_interface(tmp_path):
    env = server_env(f"sqlite:///{tmp_path / 'sessions.db'}", HOST="0.0.0.0", PORT=str(free_port()))
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0" in result.stdout + result.stderr
