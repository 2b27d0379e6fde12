"""Metrics and logs of a real gunicorn with 2 workers: counts add up across workers, every line has its request id."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from backend.observability.logs import session_ref
from backend.settings import PROJECT_ROOT
from tests.fakes.misbehaving_agent import MisbehavingAgent
from tests.servers import Server, free_port, migrate, server_env

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "metrics-operator-token-0123456789"
TIMEOUT = 10


@pytest.fixture
def served(database_url, tmp_path):
    """gunicorn (2 workers, JSON logs, an agent that never answers) and its metrics directory."""
    migrate(database_url)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    agent = MisbehavingAgent("hang")
    server = Server(
        database_url,
        tmp_path / "gunicorn.log",
        ADMIN_TOKEN=ADMIN_TOKEN,
        LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        CHAT_AGENT_URL=agent.url,
        AGENT_TIMEOUT_S="1",
    ).start(timeout_s=60)
    try:
        yield server, metrics_dir
    finally:
        server.stop()
        agent.close()


def _chat(base, session_id):
    return requests.post(f"{base}/api/v1/chat", json={"session_id": session_id, "message": "hi"}, timeout=TIMEOUT)


def _samples(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_a_scrape_adds_up_the_requests_agent_calls_and_turns_of_both_workers(served):
    server, metrics_dir = served
    base = server.base_url
    assert requests.post(f"{base}/api/v1/sessions", json={"session_id": "m-held"}, timeout=TIMEOUT).status_code == 201
    # A chat holds one sync worker for the agent's 1 s deadline: what comes meanwhile, the other serves.
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(_chat, base, "m-held")
        time.sleep(0.3)
        for i in range(19):
            assert (
                requests.post(f"{base}/api/v1/sessions", json={"session_id": f"m-{i}"}, timeout=TIMEOUT).status_code
                == 201
            )
        for i in range(6):
            assert requests.get(f"{base}/api/v1/sessions/missing-{i}", timeout=TIMEOUT).status_code == 404
        assert held.result().status_code == 502
    for i in range(3):
        assert _chat(base, f"m-{i}").status_code == 502
    assert requests.get(f"{base}/metrics", timeout=TIMEOUT).status_code == 401
    scrape = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=TIMEOUT)
    assert scrape.status_code == 200 and scrape.headers["Content-Type"].startswith("text/plain")
    samples = _samples(scrape.text)
    requests_total = 'session_store_http_requests_total{method="%s",route="%s",status="%s"}'
    assert samples[requests_total % ("POST", "/api/v1/sessions", "201")] == 20
    assert samples[requests_total % ("GET", "/api/v1/sessions/<session_id>", "404")] == 6
    assert samples[requests_total % ("POST", "/api/v1/chat", "502")] == 4
    assert samples[requests_total % ("GET", "/metrics", "401")] == 1
    assert samples['session_store_http_request_duration_seconds_count{method="POST",route="/api/v1/sessions"}'] == 20
    assert samples['session_store_agent_calls_total{outcome="timeout"}'] == 4
    assert samples['session_store_agent_call_duration_seconds_count{outcome="timeout"}'] == 4
    assert samples['session_store_agent_call_duration_seconds_sum{outcome="timeout"}'] >= 4
    assert samples['session_store_turns_total{outcome="failed"}'] == 4
    assert samples["session_store_turns_in_flight"] == 0
    # 20 creations + 4 user messages stored by the failed turns, at least: each a write transaction.
    assert samples['session_store_db_transaction_duration_seconds_count{kind="write"}'] >= 24
    # Both workers wrote their own files, and the earlier run's file was removed at start.
    pids = {int(m.group(1)) for p in metrics_dir.iterdir() if (m := re.match(r"counter_(\d+)\.db", p.name))}
    assert pids == set(server.worker_pids())
    assert len(pids) == 2


def test_every_json_log_line_carries_the_request_id_and_the_access_line_its_fields(served):
    server, _ = served
    base = server.base_url
    requests.post(f"{base}/api/v1/sessions", json={"session_id": "log-1"}, timeout=TIMEOUT)
    answer = requests.post(
        f"{base}/api/v1/chat",
        json={"session_id": "log-1", "message": "hi"},
        headers={"X-Request-ID": "client-chosen-42"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 502 and answer.headers["X-Request-ID"] == "client-chosen-42"
    generated = requests.get(f"{base}/api/v1/sessions/log-1", timeout=TIMEOUT).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    server.stop()
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.strip()]
    mine = [line for line in lines if line.get("request_id") == "client-chosen-42"]
    access = [line for line in mine if line["logger"] == "backend.access"]
    assert len(access) == 1
    assert {k: access[0][k] for k in ("route", "method", "status", "session_id")} == {
        "route": "/api/v1/chat",
        "method": "POST",
        "status": 502,
        "session_id": session_ref("log-1"),
    }
    assert access[0]["duration_ms"] > 0
    cause = [line for line in mine if line["logger"] == "backend.web.errors"]
    assert len(cause) == 1 and cause[0]["level"] == "WARNING" and "did not answer within 1 s" in cause[0]["message"]
    assert any(line.get("request_id") == generated and line["logger"] == "backend.access" for line in lines)
    assert not any("HTTP/1.1" in line.get("message", "") for line in lines)  # gunicorn's access log is off


def test_a_bad_setting_stops_gunicorn_before_it_listens_with_one_line_and_status_1(tmp_path):
    env = server_env(f"sqlite:///{tmp_path / 'x.db'}", ADMIN_TOKEN="short", PORT=str(free_port()))
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).strip().splitlines()
    ours = [line for line in output if "session-store" in line]
    assert result.returncode == 1
    assert ours == ["session-store: bad setting: ADMIN_TOKEN must be at least 16 characters"]
    assert not any("Traceback" in line or "Listening at" in line for line in output)
    assert "short" not in "\n".join(output)  # the credential itself is never echoed


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("0", "POSTGRES_POOL_SIZE must be at least 1, not 0"),
        ("abc", "POSTGRES_POOL_SIZE must be a whole number, not 'abc'"),
    ],
)
def test_a_bad_pool_size_is_named_before_gunicorn_forks(monkeypatch, value, line):
    from config.hooks import settings_problem

    monkeypatch.setenv("POSTGRES_POOL_SIZE", value)
    assert settings_problem() == line
