"""Durable acknowledgements, proved under a syscall trace of real gunicorn workers (SQLite).

strace follows both workers while they serve appends. With the default SQLITE_SYNCHRONOUS=FULL,
every 201 a worker sends is preceded, in that worker, by a write to the WAL (or the database file)
and then an fsync/fdatasync of it, both after its previous response. With NORMAL the same check
fails: that is what makes it a test of the setting and not of the tracer.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.databases import missing
from tests.servers import migrate

pytestmark = pytest.mark.slow
APPENDS = 40
TIMEOUT = 30

# "1234  10:00:00.123456 fdatasync(7</tmp/x/sessions.db-wal>) = 0" (pid, time, call, first argument)
LINE = re.compile(r"^(\d+)\s+\S+\s+(\w+)\((\d+)<([^>]*)>(.*)$")


def strace_or_skip() -> str:
    found = shutil.which("strace")
    if found:
        return found
    missing("strace is not installed (Debian package strace; .ci/run installs it)")


class Trace:
    """strace attached to running processes, writing every write, sync and send to a file."""

    def __init__(self, pids: list[int], path: Path):
        self.path = path
        calls = "trace=write,pwrite64,writev,pwritev,fsync,fdatasync,sendto,sendmsg"
        command = [strace_or_skip(), "-f", "-tt", "-y", "-s", "48", "-e", calls, "-o", str(path)]
        for pid in pids:
            command += ["-p", str(pid)]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        attached, deadline = 0, time.monotonic() + 10
        while attached < len(pids) and time.monotonic() < deadline:  # "Process N attached" once per process
            line = self.process.stderr.readline()
            attached += "attached" in line
        if attached < len(pids):
            self.stop()
            missing("strace could not attach to the workers (ptrace not permitted here)")

    def stop(self) -> list[str]:
        """Detach; the trace's lines."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=10)
        self.process.stderr.close()
        return self.path.read_text().splitlines() if self.path.exists() else []


def acknowledgements(lines: list[str], database: Path) -> list[dict]:
    """For each 201 a worker sent: whether a database write, and a sync after it, came before it (since its last
    response)."""
    files = (str(database), f"{database}-wal")
    state: dict[str, dict] = {}
    found = []
    for line in lines:
        match = LINE.match(line)
        if not match:
            continue
        pid, call, _fd, target, rest = match.groups()
        seen = state.setdefault(pid, {"write": False, "sync_after_write": False})
        if target in files and call in ("write", "pwrite64", "writev", "pwritev"):
            seen.update(write=True, sync_after_write=False)
        elif target in files and call in ("fsync", "fdatasync") and seen["write"]:
            seen["sync_after_write"] = True
        elif (
            call in ("sendto", "sendmsg", "write", "writev")
            and target.startswith(("socket:", "TCP"))
            and '"HTTP/1.1 ' in rest
        ):
            if '"HTTP/1.1 201' in rest:
                found.append({"pid": pid, **seen})
            state[pid] = {"write": False, "sync_after_write": False}
    return found


def traced_appends(launch, tmp_path, level: str) -> tuple[list[dict], int]:
    database = tmp_path / level / "sessions.db"
    url = f"sqlite:///{database}"
    migrate(url)
    server = launch(url, name=f"trace-{level}", SQLITE_SYNCHRONOUS=level)
    api = f"{server.base_url}/api/v1/sessions"
    assert requests.post(api, json={"session_id": "s1"}, timeout=TIMEOUT).status_code == 201
    trace = Trace(server.worker_pids(), tmp_path / f"{level}.trace")
    try:
        statuses = [
            requests.post(f"{api}/s1/messages", json={"role": "user", "content": f"m{i}"}, timeout=TIMEOUT).status_code
            for i in range(APPENDS)
        ]
    finally:
        lines = trace.stop()
    assert statuses == [201] * APPENDS
    return acknowledgements(lines, database), len(lines)


def test_with_synchronous_full_every_acknowledged_append_was_synced_before_its_201(launch, tmp_path):
    acknowledged, _ = traced_appends(launch, tmp_path, "FULL")
    assert len(acknowledged) == APPENDS, "every 201 sent was seen in the trace"
    unsynced = [a for a in acknowledged if not (a["write"] and a["sync_after_write"])]
    assert unsynced == []


def test_with_synchronous_normal_acknowledged_appends_were_not_synced(launch, tmp_path):
    acknowledged, _ = traced_appends(launch, tmp_path, "NORMAL")
    assert len(acknowledged) == APPENDS
    assert all(a["write"] for a in acknowledged)
    # Only a checkpoint syncs (about one per thousand pages): most acknowledgements had none.
    assert sum(a["sync_after_write"] for a in acknowledged) < APPENDS // 2
