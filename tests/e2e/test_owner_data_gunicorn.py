"""The operator's plane through gunicorn with 2 workers: search what another worker wrote, export an owner while
the other worker serves, erase, and find nothing after; an audit line in the server's log for each."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from click.testing import CliRunner

from backend.cli import main
from tests.servers import Server

pytestmark = pytest.mark.slow

TOKEN = "operator-token-e2e-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT = 20


@pytest.fixture
def server(operator_database, tmp_path):
    url = operator_database
    started = Server(url, tmp_path / "gunicorn.log", workers=2, ADMIN_TOKEN=TOKEN, LOG_FORMAT="json").start(60)
    yield started
    started.stop()


def post(server, path, body):
    response = requests.post(server.base_url + path, json=body, timeout=TIMEOUT)
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_search_export_and_erase_across_workers(server):
    base = server.base_url
    sessions = [post(server, "/api/v1/sessions", {"session_id": f"carol-{i}"})["session_id"] for i in range(4)]
    bodies = [
        {"messages": [{"role": "user", "content": f"carol order {i}-{j} parcel"} for j in range(50)]} for i in range(4)
    ]
    with ThreadPoolExecutor(4) as pool:  # the writes land on both workers
        list(
            pool.map(
                lambda pair: post(server, f"/api/v1/sessions/{pair[0]}/messages", pair[1]),
                zip(sessions, bodies, strict=True),
            )
        )
    # Sessions made in none mode have no owner: the operator command gives them one, as after an adoption.
    csv = "session_id,owner\n" + "".join(f"{sid},carol\n" for sid in sessions)
    result = CliRunner().invoke(main, ["assign-owners", "-"], input=csv, env={"DATABASE_URL": server.database_url})
    assert result.exit_code == 0, result.output

    hits = requests.get(base + "/api/v1/search", params={"q": "parcel", "limit": 100}, headers=AUTH, timeout=TIMEOUT)
    assert hits.status_code == 200 and len(hits.json()["hits"]) == 100 and hits.json()["next_cursor"]

    with requests.get(base + "/api/v1/owners/carol/export", headers=AUTH, stream=True, timeout=TIMEOUT) as response:
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.iter_lines() if line]
        health = requests.get(base + "/healthz", timeout=TIMEOUT)  # the other worker answers meanwhile
    assert health.status_code == 200
    assert lines[-1] == {"type": "end", "sessions": 4, "messages": 200, "summaries": 0, "turns": 0}

    erased = requests.delete(base + "/api/v1/owners/carol", headers=AUTH, timeout=TIMEOUT)
    assert erased.status_code == 200, erased.text
    assert (erased.json()["erased"]["sessions"], erased.json()["erased"]["messages"]) == (4, 200)
    again = requests.delete(base + "/api/v1/owners/carol", headers=AUTH, timeout=TIMEOUT).json()
    assert set(again["erased"].values()) == {0}
    for _ in range(4):  # whichever worker answers
        found = requests.get(base + "/api/v1/search", params={"q": "parcel"}, headers=AUTH, timeout=TIMEOUT).json()
        assert found["hits"] == []
        assert requests.get(f"{base}/api/v1/sessions/{sessions[0]}", timeout=TIMEOUT).status_code == 404
    audit = [json.loads(line) for line in server.log_text().splitlines() if '"audit"' in line]
    assert [(line["audit"], line["owner"], line["actor"]) for line in audit] == [
        ("export", "carol", "operator"),
        ("erase", "carol", "operator"),
        ("erase", "carol", "operator"),
    ]
    assert "parcel" not in server.log_text()
