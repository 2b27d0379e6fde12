"""Search, export and erase from the console: hits with highlighted snippets and nothing else as markup, the
owner's export as the API gives it, and an erase only once the owner's name is typed again."""

from __future__ import annotations

import json
import logging

import pytest

from tests.api.conftest import ADMIN_TOKEN
from tests.console.reading import elements
from tests.rows import dump_rows

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def owners(service):
    """Alice: two sessions (one with a hostile message and a summary); Bob: one. The ids of Alice's sessions."""
    first = service.get_or_create_session(owner="alice").session_id
    second = service.get_or_create_session(owner="alice").session_id
    asked = service.save_message(first, "user", "what is the weather in Lyon", owner="alice")
    service.save_message(first, "assistant", f"The weather is fine {HOSTILE}", owner="alice")
    service.add_summary(first, "weather talk", asked, owner="alice")
    service.save_message(second, "user", "book a table", owner="alice")
    bobs = service.get_or_create_session(owner="bob").session_id
    service.save_message(bobs, "user", "weather for bob", owner="bob")
    return first, second


def test_search_shows_each_hit_with_its_highlighted_snippet_and_everything_else_as_text(operator, owners):
    first, _ = owners
    html = operator.get("/console/search?q=weather&owner=alice").get_data(as_text=True)
    hits = elements(html, "hit", "li")
    assert len(hits) == 2
    assert [e["text"] for e in elements(html, tag="mark")] == ["weather", "weather"]
    assert "<script>alert" not in html
    everything = elements(html)
    snippets = [e for e in everything if "snippet" in e["classes"]]
    inner = [e["tag"] for e in everything if any(e["parent"] is snippet for snippet in snippets)]
    assert len(snippets) == 2 and inner == ["mark", "mark"]  # no markup in a snippet but its highlights
    links = [e["attrs"]["href"] for e in elements(html, "session-link")]
    assert all(link.startswith(f"/console/sessions/{first}#message-") for link in links)
    everyone = operator.get("/console/search?q=weather").get_data(as_text=True)
    assert len(elements(everyone, "hit", "li")) == 3
    users_only = operator.get("/console/search?q=weather&role=user").get_data(as_text=True)
    assert [e["text"] for e in elements(users_only, "role")] == ["user", "user"]
    bad = operator.get('/console/search?q="')
    assert bad.status_code == 422
    assert [e["text"].split(":")[0] for e in elements(bad.get_data(as_text=True), tag="strong")] == ["q"]


def test_an_export_follows_a_confirmation_and_holds_what_the_apis_export_holds(
    console_app, operator, page_token, owners, caplog
):
    caplog.set_level(logging.INFO)
    confirmation = operator.get("/console/owner/export?owner=alice").get_data(as_text=True)
    (form,) = [f for f in elements(confirmation, tag="form") if f["attrs"]["action"] == "/console/owner/export"]
    assert form["attrs"]["method"] == "post"
    response = operator.post("/console/owner/export", data={"owner": "alice", "csrf_token": page_token})
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"] == 'attachment; filename="export-alice.ndjson"'
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    api = console_app.test_client().get(
        "/api/v1/owners/alice/export", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    from_api = [json.loads(line) for line in api.get_data(as_text=True).splitlines()]
    without_time = lambda records: [{k: v for k, v in r.items() if k != "exported_at"} for r in records]  # noqa: E731
    assert without_time(lines) == without_time(from_api)
    assert lines[-1] == {"type": "end", "sessions": 2, "messages": 3, "summaries": 1, "turns": 0}
    assert "export of owner alice by console:admin-token (complete: True)" in caplog.text


def test_an_erase_needs_the_owner_typed_again_then_erases_the_owner_alone_and_counts_it(
    operator, page_token, owners, service, caplog, database_url
):
    caplog.set_level(logging.INFO)
    before = dump_rows(service.engine)
    confirmation = operator.get("/console/owner/erase?owner=alice").get_data(as_text=True)
    assert "Type the owner to confirm" in confirmation
    for typed in ("", "Alice", "alice "):
        refused = operator.post(
            "/console/owner/erase", data={"owner": "alice", "confirm": typed, "csrf_token": page_token}
        )
        assert refused.status_code == 422 and "nothing was erased" in refused.get_data(as_text=True)
    assert dump_rows(service.engine) == before
    done = operator.post("/console/owner/erase", data={"owner": "alice", "confirm": "alice", "csrf_token": page_token})
    assert done.status_code == 200
    counts = {e["attrs"]["data-count"]: int(e["text"]) for e in elements(done.get_data(as_text=True), "number")}
    assert (counts["sessions"], counts["messages"], counts["summaries"]) == (2, 3, 1)
    (left_in_files,) = elements(done.get_data(as_text=True), "scrubbed")
    expected = (
        "The database file was scrubbed" if database_url.startswith("sqlite") else "PostgreSQL: the rows are gone"
    )
    assert left_in_files["text"].startswith(expected)
    left = [(s.owner, s.message_count) for s in service.list_sessions().sessions]
    assert left == [("bob", 1)]
    assert "erase of owner alice by console:admin-token" in caplog.text
    again = operator.post("/console/owner/erase", data={"owner": "alice", "confirm": "alice", "csrf_token": page_token})
    zeros = {e["attrs"]["data-count"]: int(e["text"]) for e in elements(again.get_data(as_text=True), "number")}
    assert set(zeros.values()) == {0}
