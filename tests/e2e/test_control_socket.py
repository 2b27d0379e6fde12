"""gunicorn's control socket: none unless GUNICORN_CONTROL_SOCKET names one, and then each server its own.

gunicorn 25+ binds ~/.gunicorn/gunicorn.ctl (or $XDG_RUNTIME_DIR/gunicorn.ctl) by default, one path for every
instance of the user: the first instance to stop removed it while 7 others still ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def unix_socket_paths(pid: int) -> set[str]:
    """The paths of the Unix sockets process `pid` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    paths = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[6] in inodes:
            paths.add(fields[7])
    return paths


def control_workers(path: Path) -> list[int]:
    """The worker pids the master listening on control socket `path` reports (`gunicornc show workers`)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicornc"), "-s", str(path), "-c", "show workers", "-j"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(worker["pid"] for worker in json.loads(result.stdout)["workers"])


def test_servers_open_no_control_socket_unless_told_to(launch, tmp_path):
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir()
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    servers = [launch(url, name=f"plain-{i}", HOME=str(home), XDG_RUNTIME_DIR=str(runtime)) for i in range(2)]
    assert list(home.iterdir()) == [] and list(runtime.iterdir()) == []  # neither of gunicorn's default paths
    assert [unix_socket_paths(server.process.pid) for server in servers] == [set(), set()]
    assert "Control socket" not in servers[0].log_text()


def test_each_server_has_its_own_control_socket_and_stopping_one_leaves_the_others(launch, tmp_path):
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    sockets = [tmp_path / "first.ctl", tmp_path / "second.ctl"]
    first, second = (
        launch(url, name=path.stem, GUNICORN_CONTROL_SOCKET=str(path), HOME=str(tmp_path)) for path in sockets
    )
    assert unix_socket_paths(first.process.pid) == {str(sockets[0])}
    assert unix_socket_paths(second.process.pid) == {str(sockets[1])}
    assert control_workers(sockets[0]) == sorted(first.worker_pids())
    assert control_workers(sockets[1]) == sorted(second.worker_pids())
    assert not set(first.worker_pids()) & set(second.worker_pids())

    first.stop()
    assert not sockets[0].exists()
    assert sockets[1].is_socket() and control_workers(sockets[1]) == sorted(second.worker_pids())
