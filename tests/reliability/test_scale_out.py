"""Scale-out: two gunicorn servers (two ports, standing in for two hosts) on one database under the load test."""

from __future__ import annotations

import pytest
import requests

from tests.reliability.load import Storm
from tests.reliability.verify import inspect_store

pytestmark = pytest.mark.slow
API = "/api/v1"


def test_two_servers_on_one_database_serve_the_same_sessions_consistently(database_url, launch, figures):
    """16 clients alternate between two servers (2 workers each) for 8 s; then both servers must agree on everything."""
    first = launch(database_url, name="host-a")
    second = launch(database_url, name="host-b", migrate_first=False)
    storm = Storm([first.base_url, second.base_url], clients=16, duration_s=8.0, tag="two")
    tally = storm.run()
    findings = inspect_store(database_url, tally.acknowledged)

    disagreements = []
    sessions = storm.sessions() + sorted(tally.created)
    for sid in sessions:
        views = []
        for server in (first, second):
            session = requests.get(f"{server.base_url}{API}/sessions/{sid}", timeout=10).json()
            page = requests.get(f"{server.base_url}{API}/sessions/{sid}/messages", params={"limit": 500}, timeout=10)
            messages = page.json()["messages"]
            views.append((session["message_count"], [(m["id"], m["content"]) for m in messages]))
            if session["message_count"] != len(messages) and session["message_count"] <= 500:
                disagreements.append(f"{sid} on {server.base_url}: count {session['message_count']} != {len(messages)}")
        if views[0] != views[1]:
            disagreements.append(f"{sid}: the two servers disagree")
    figures.update(
        tally.figures(),
        **findings.figures(),
        servers=2,
        workers_each=2,
        sessions_compared_on_both=len(sessions),
        disagreements=len(disagreements),
    )

    assert tally.server_errors == [], tally.server_errors[:5]
    assert not tally.transport_errors
    for server in (first, second):
        assert "database is locked" not in server.log_text()
    assert set(tally.created.values()) == {1}, "a racing id was created by both servers"
    findings.assert_consistent()
    assert findings.acknowledged_found == len(tally.acknowledged) > 500
    assert not disagreements, disagreements[:10]
