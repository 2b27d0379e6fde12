"""End to end: migrate with `alembic upgrade head`, serve with gunicorn (2 workers), converse over real HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.servers import Server, migrate

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "e2e-operator-token-0123456789"
TIMEOUT = 10


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
    migrate(operator_database)
    gunicorn = Server(operator_database, tmp_path / "gunicorn.log", ADMIN_TOKEN=ADMIN_TOKEN).start(timeout_s=60)
    try:
        yield gunicorn.base_url, gunicorn
    finally:
        gunicorn.stop()


def test_a_conversation_over_real_http(server):
    base, gunicorn = server
    http = requests.Session()
    assert len(gunicorn.worker_pids()) == 2
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
        f"{base}/api/v1/sessions",
        params={"device_fingerprint": "phone-1"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=TIMEOUT,
    )
    assert [s["session_id"] for s in listing.json()["sessions"]] == [sid]
    assert http.get(f"{base}/api/v1/sessions", timeout=TIMEOUT).status_code == 401

    assert http.delete(f"{base}/api/v1/sessions/{sid}", timeout=TIMEOUT).status_code == 204
    gone = http.get(f"{base}/api/v1/sessions/{sid}", timeout=TIMEOUT)
    assert gone.status_code == 404 and gone.json()["message"] == "session not found"
    assert http.get(f"{base}/api/v1/openapi.json", timeout=TIMEOUT).json()["info"]["title"]
