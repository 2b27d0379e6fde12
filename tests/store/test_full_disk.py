"""A full disk under real gunicorn: writes answer 507 naming the cause and are logged, reads keep working,
/readyz says why it is not ready, nothing acknowledged is lost, and writes recover without a restart.

The SQLite file lives on a small tmpfs this test mounts (CI runs as root). Where mounting is not
permitted the test skips with the reason; under CI (the CI variable set) it fails instead.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess

import pytest
import requests

from backend.store.engines import dispose_engine
from tests.databases import missing
from tests.servers import migrate

pytestmark = pytest.mark.slow
TIMEOUT = 30
DISK_MB = 8


@pytest.fixture
def small_disk(tmp_path):
    """A DISK_MB tmpfs mounted for this test, unmounted afterwards."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mountpoint)], capture_output=True, text=True
    )
    if result.returncode != 0:
        missing(
            f"cannot mount a tmpfs here ({result.stderr.strip() or 'mount failed'}): run as root to test a full disk"
        )
    yield mountpoint
    if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)  # still busy: detach it anyway


def free_bytes(path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(path, leave_bytes: int = 0) -> None:
    """Write `path` until the filesystem has at most `leave_bytes` free (or refuses more)."""
    chunk = b"\0" * 65536
    with open(path, "ab") as filler:
        try:
            while free_bytes(path.parent) > leave_bytes:
                filler.write(chunk[: max(4096, min(len(chunk), free_bytes(path.parent) - leave_bytes))])
                filler.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_a_full_disk_refuses_writes_with_507_keeps_reads_and_recovers(small_disk, launch):
    url = f"sqlite:///{small_disk / 'sessions.db'}"
    migrate(url)
    server = launch(url, name="full-disk", MIN_FREE_DISK_MB="1")
    base = server.base_url
    api = f"{base}/api/v1/sessions/s1"
    assert requests.get(f"{base}/readyz", timeout=TIMEOUT).status_code == 200
    assert requests.post(f"{base}/api/v1/sessions", json={"session_id": "s1"}, timeout=TIMEOUT).status_code == 201
    acknowledged = [
        requests.post(f"{api}/messages", json={"role": "user", "content": f"m{i}"}, timeout=TIMEOUT).json()["id"]
        for i in range(5)
    ]

    # Below MIN_FREE_DISK_MB, writes still succeed but the server says it is not ready, and why.
    fill(small_disk / "filler", leave_bytes=512 * 1024)
    low = requests.get(f"{base}/readyz", timeout=TIMEOUT)
    assert low.status_code == 503 and "below MIN_FREE_DISK_MB" in low.json()["message"]

    # Full: appends are acknowledged until SQLite cannot grow its files, then refused with 507.
    fill(small_disk / "filler")
    refused = None
    for i in range(20000):
        response = requests.post(
            f"{api}/messages", json={"role": "user", "content": f"{i}:" + "x" * 4000}, timeout=TIMEOUT
        )
        if response.status_code != 201:
            refused = response
            break
        acknowledged.append(response.json()["id"])
    assert refused is not None and refused.status_code == 507, refused and refused.text
    print(f"full disk: {len(acknowledged)} appends acknowledged before the first 507")
    assert "disk is full" in refused.json()["message"] and refused.json()["status"] == "Insufficient Storage"
    assert "write refused on POST /api/v1/sessions/<session_id>/messages" in server.log_text()

    assert requests.get(f"{api}/messages?limit=5", timeout=TIMEOUT).status_code == 200  # reads keep working
    assert requests.get(api, timeout=TIMEOUT).status_code == 200
    for _ in range(4):
        not_ready = requests.get(f"{base}/readyz", timeout=TIMEOUT)
        assert not_ready.status_code == 503
        assert "disk is full" in not_ready.json()["message"] or "below MIN_FREE_DISK_MB" in not_ready.json()["message"]

    # Space is back: writes work again in the same processes, and readiness follows.
    (small_disk / "filler").unlink()
    recovered = requests.post(f"{api}/messages", json={"role": "user", "content": "after"}, timeout=TIMEOUT)
    assert recovered.status_code == 201
    acknowledged.append(recovered.json()["id"])
    assert all(requests.get(f"{base}/readyz", timeout=TIMEOUT).status_code == 200 for _ in range(6))

    # Nothing acknowledged was lost, the count matches the rows, and the file is sound.
    stored, before = [], None
    while True:
        page = requests.get(
            f"{api}/messages", params={"limit": 500, **({"before": before} if before else {})}, timeout=TIMEOUT
        ).json()
        stored = [m["id"] for m in page["messages"]] + stored
        before = page["next_before"]
        if before is None:
            break
    assert set(acknowledged) <= set(stored) and len(stored) == len(acknowledged)
    assert requests.get(api, timeout=TIMEOUT).json()["message_count"] == len(stored)
    server.stop()
    dispose_engine(url)
    check = sqlite3.connect(small_disk / "sessions.db")
    try:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        check.close()


def _readyz_answers(server, calls: int = 12) -> list[tuple[int, str]]:
    """`calls` readiness probes, each on a new connection (the kernel spreads them over the workers)."""
    answers = []
    for _ in range(calls):
        response = requests.get(f"{server.base_url}/readyz", timeout=TIMEOUT)
        answers.append((response.status_code, response.json().get("message", response.json().get("status"))))
    return answers


def _readyz_workers(server, status: int) -> set[str]:
    """The pids of the workers whose access lines show /readyz answering `status`."""
    return {line.split()[4] for line in server.log_text().splitlines() if f"GET /readyz {status} " in line}


def test_after_a_507_every_worker_is_not_ready_until_a_write_succeeds(small_disk, launch):
    url = f"sqlite:///{small_disk / 'sessions.db'}"
    migrate(url)
    # No free-space threshold: only the refused write itself can make a worker say it is not ready.
    server = launch(url, name="full-disk-readiness", MIN_FREE_DISK_MB="0")
    api = f"{server.base_url}/api/v1/sessions/s1"
    assert requests.post(f"{server.base_url}/api/v1/sessions", json={"session_id": "s1"}, timeout=TIMEOUT).ok
    fill(small_disk / "filler")
    for i in range(20000):
        response = requests.post(
            f"{api}/messages", json={"role": "user", "content": f"{i}:" + "x" * 4000}, timeout=TIMEOUT
        )
        if response.status_code != 201:
            break
    assert response.status_code == 507, response.text
    mark = small_disk / "sessions.db.disk-full"
    assert mark.exists() and mark.stat().st_size == 0  # made on the full filesystem itself

    answers = _readyz_answers(server)
    print(f"after the 507: {answers}")
    assert {status for status, _ in answers} == {503}
    assert all(message.startswith("the database's disk is full") for _, message in answers), answers
    assert _readyz_workers(server, 503) == {str(pid) for pid in server.worker_pids()} and len(server.worker_pids()) == 2

    (small_disk / "filler").unlink()
    assert requests.post(f"{api}/messages", json={"role": "user", "content": "room again"}, timeout=TIMEOUT).ok
    assert not mark.exists()
    assert _readyz_answers(server) == [(200, "ready")] * 12
    assert _readyz_workers(server, 200) >= {str(pid) for pid in server.worker_pids()}
