"""Load: 16 clients for a fixed time against gunicorn with two workers; nothing lost, nothing counted twice."""

from __future__ import annotations

import pytest

from tests.reliability.load import Storm
from tests.reliability.verify import inspect_store

pytestmark = pytest.mark.slow


def test_every_acknowledged_message_is_stored_once_under_concurrent_load(database_url, launch, figures):
    """16 clients, 8 s: appends to one shared and 64 own sessions, history reads, racing get-or-creates."""
    server = launch(database_url)
    storm = Storm([server.base_url], clients=16, duration_s=8.0)
    tally = storm.run()
    findings = inspect_store(database_url, tally.acknowledged)
    figures.update(
        tally.figures(), **findings.figures(), racing_ids=len(tally.created), misordered_pages=tally.misordered_pages
    )

    assert tally.server_errors == [], tally.server_errors[:5]
    assert not tally.transport_errors, tally.transport_errors
    assert "database is locked" not in server.log_text()
    assert len(tally.acknowledged) > 500, "the storm was too small to prove anything"
    assert tally.misordered_pages == 0
    # Each racing id was created by exactly one of the clients that asked for it at the same time.
    assert set(tally.created.values()) == {1}
    findings.assert_consistent()
    assert findings.acknowledged_found == len(tally.acknowledged)
