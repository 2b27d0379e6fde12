"""End to end: migrate with `alembic upgrade head`, serve with gunicorn (2 workers), converse over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from config.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ADMIN_TOKEN = "e2e-operator-token-0123456789"
TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def operator_database(request, tmp_path):
    """A database URL as an operator would give it: an empty SQLite file path, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'sessions.db'}"
    schema = request.getfixturevalue("postgres_schema")
    schema.empty()
    return schema.url


@pytest.fixture
def server(operator_database, tmp_path):
    """gunicorn serving wsgi:app on a free loopback port, after `alembic upgrade head`; stopped afterwards."""
    env = {
        **os.environ,
        "DATABASE_URL": operator_database,
        "APP_ENV": "production",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
        "CHAT_AGENT": "",
        "CHAT_AGENT_URL": "",
        "CORS_ORIGINS": "",
    }
    migrate = subprocess.run(
        [BIN / "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert migrate.returncode == 0, migrate.stderr
    log = open(tmp_path / "gunicorn.log", "w+")
    process = subprocess.Popen(
        [BIN / "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                # The master listens before its workers have imported the app.
                pass
            assert process.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def workers_of(pid: int) -> list[str]:
    """The child processes of gunicorn's master (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return children.read_text().split() if children.exists() else []


def test_a_conversation_over_real_http(server):
    base, process = server
    http = requests.Session()
    assert len(workers_of(process.pid)) == 2 or not Path("/proc").exists()
    assert http.get(f"{base}/readyz", timeout=TIMEOUT).status_code == 200

    created = http.post(f"{base}/api/v1/sessions", json={"device_fingerprint": "phone-1"}, timeout=TIMEOUT)
    assert created.status_code == 201
    sid = created.json()["session_id"]
    assert http.post(f"{base}/api/v1/sessions", json={"session_id": sid}, timeout=TIMEOUT).status_code == 200

    chat = http.post(f"{base}/api/v1/chat", json={"session_id": sid, "message": "Hello!"}, timeout=TIMEOUT)
    assert chat.status_code == 200 and chat.json()["reply"]["content"] == "echo: Hello!"
    voice = http.post(
        f"{base}/api/v1/voice",
        json={"session_id": sid, "transcript": "Bonjour", "audio": {"format": "opus", "duration_ms": 900}},
        timeout=TIMEOUT,
    )
    assert voice.status_code == 200 and voice.json()["message"]["metadata"]["modality"] == "voice"
    for i in range(3):
        appended = http.post(
            f"{base}/api/v1/sessions/{sid}/messages", json={"role": "user", "content": f"note {i}"}, timeout=TIMEOUT
        )
        assert appended.status_code == 201

    contents, before = [], None
    while True:
        params = {"limit": 2, **({"before": before} if before else {})}
        page = http.get(f"{base}/api/v1/sessions/{sid}/messages", params=params, timeout=TIMEOUT).json()
        contents = [m["content"] for m in page["messages"]] + contents
        before = page["next_before"]
        if before is None:
            break
    assert contents == ["Hello!", "echo: Hello!", "Bonjour", "echo: Bonjour", "note 0", "note 1", "note 2"]

    stats = http.get(f"{base}/api/v1/sessions/{sid}/stats", timeout=TIMEOUT).json()
    assert stats["message_count"] == 7 and stats["messages_by_role"] == {"user": 5, "assistant": 2}
    listing = http.get(
        f"{base}/api/v1/sessions", params={"device_fingerprint": "phone-1"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=TIMEOUT,
    )
    assert [s["session_id"] for s in listing.json()["sessions"]] == [sid]
    assert http.get(f"{base}/api/v1/sessions", timeout=TIMEOUT).status_code == 401

    assert http.delete(f"{base}/api/v1/sessions/{sid}", timeout=TIMEOUT).status_code == 204
    gone = http.get(f"{base}/api/v1/sessions/{sid}", timeout=TIMEOUT)
    assert gone.status_code == 404 and gone.json()["message"] == "session not found"
    assert http.get(f"{base}/api/v1/openapi.json", timeout=TIMEOUT).json()["info"]["title"]
