"""PostgreSQL's full disk, for real: the tables live in a tablespace on a 2 MiB tmpfs this test mounts. A write
PostgreSQL refuses with disk_full (SQLSTATE 53100) answers 507 as SQLite's SQLITE_FULL does, reads keep working,
every worker of the server says it is not ready until a write succeeds again, and nothing acknowledged is lost.

Needs root (to mount) and the PostgreSQL server on this machine (its user must own the tablespace's directory);
where either is missing the test skips with the reason, and fails under CI, which has both.
"""

from __future__ import annotations

import base64
import os
import pwd
import secrets
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from backend.store.disk_full import SUFFIX
from tests.databases import PostgresSchema, missing, postgres_url_or_skip

pytestmark = pytest.mark.slow
TIMEOUT = 30
DISK_MB = 2
TABLES = ("sessions", "chat_history", "idempotency_keys", "turn_leases", "turns", "turn_events", "summaries")


def _mount(mountpoint: Path, owner: pwd.struct_passwd, size_mb: int, remount: bool = False) -> None:
    options = f"{'remount,' if remount else ''}size={size_mb}m,mode=0700,uid={owner.pw_uid},gid={owner.pw_gid}"
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)], capture_output=True)
    if result.returncode != 0:
        missing(f"cannot mount a tmpfs here ({result.stderr.decode().strip() or 'mount failed'}): run as root")


@pytest.fixture
def full_postgres():
    """A PostgreSQL schema of its own, migrated, whose tables live on a DISK_MB tmpfs; (url, mountpoint, owner)."""
    base_url = postgres_url_or_skip()
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        missing("no postgres user on this machine: the PostgreSQL server is elsewhere, no tablespace can be made")
    mountpoint = Path(tempfile.mkdtemp(prefix="session-store-tablespace-"))
    os.chmod(mountpoint, 0o755)
    _mount(mountpoint, owner, DISK_MB)
    tablespace = f"test_tiny_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    schema = None
    try:
        with admin.connect() as conn:
            try:
                conn.exec_driver_sql(f"CREATE TABLESPACE {tablespace} LOCATION '{mountpoint}'")
            except sa.exc.DBAPIError as exc:
                missing(f"cannot create a tablespace on {mountpoint}: {exc.orig}")
        schema = PostgresSchema(base_url)
        with schema.engine.begin() as conn:
            for table in TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} SET TABLESPACE {tablespace}")
        schema.engine.dispose()
        yield schema.url, mountpoint, owner
    finally:
        if schema is not None:
            schema.drop()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP TABLESPACE IF EXISTS {tablespace}")
        admin.dispose()
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        mountpoint.rmdir()


def _incompressible(chars: int) -> str:
    # PostgreSQL compresses long values: random text takes about its length on disk.
    return base64.b64encode(os.urandom(chars * 3 // 4)).decode()


def _readyz(base: str, calls: int = 12) -> list[tuple[int, str]]:
    answers = []
    for _ in range(calls):
        body = requests.get(f"{base}/readyz", timeout=TIMEOUT).json()
        answers.append((body.get("code", 200), body.get("message", body.get("status"))))
    return answers


def test_postgres_disk_full_answers_507_keeps_reads_and_every_worker_is_not_ready_until_a_write_succeeds(
    full_postgres, launch, tmp_path
):
    url, mountpoint, owner = full_postgres
    metrics = tmp_path / "metrics"
    server = launch(url, name="pg-full", migrate_first=False, PROMETHEUS_MULTIPROC_DIR=str(metrics))
    base = server.base_url
    api = f"{base}/api/v1/sessions/s1"
    assert requests.post(f"{base}/api/v1/sessions", json={"session_id": "s1"}, timeout=TIMEOUT).status_code == 201
    acknowledged, refused = [], None
    for _ in range(200):
        response = requests.post(
            f"{api}/messages", json={"role": "user", "content": _incompressible(50_000)}, timeout=TIMEOUT
        )
        if response.status_code != 201:
            refused = response
            break
        acknowledged.append(response.json()["id"])
    print(f"PostgreSQL full disk: {len(acknowledged)} appends of 50,000 characters acknowledged before the first 507")
    assert refused is not None and refused.status_code == 507, refused and refused.text
    assert refused.json() == {
        "code": 507,
        "status": "Insufficient Storage",
        "message": "the database's disk is full: the write was refused and nothing was stored",
    }
    assert refused.headers["Retry-After"] == "30"
    assert "write refused on POST /api/v1/sessions/<session_id>/messages" in server.log_text()
    assert [path.name.endswith(SUFFIX) for path in metrics.glob(f"postgresql-*{SUFFIX}")] == [True]

    # Reads keep working; every worker says why it is not ready (the probe's write is refused too).
    assert requests.get(api, timeout=TIMEOUT).json()["message_count"] == len(acknowledged)
    answers = _readyz(base)
    assert set(answers) == {(503, "the database's disk is full: writes are refused until space is freed")}

    _mount(mountpoint, owner, 4 * DISK_MB, remount=True)  # space is back
    recovered = requests.post(f"{api}/messages", json={"role": "user", "content": "room again"}, timeout=TIMEOUT)
    assert recovered.status_code == 201
    acknowledged.append(recovered.json()["id"])
    assert list(metrics.glob(f"*{SUFFIX}")) == []
    assert _readyz(base) == [(200, "ready")] * 12
    stored, before = [], None
    while True:  # pages are bounded in bytes: a few of these messages fill one
        page = requests.get(
            f"{api}/messages", params={"limit": 500, **({"before": before} if before else {})}, timeout=TIMEOUT
        ).json()
        stored = [m["id"] for m in page["messages"]] + stored
        if (before := page["next_before"]) is None:
            break
    assert stored == acknowledged
    assert requests.get(api, timeout=TIMEOUT).json()["message_count"] == len(acknowledged)
