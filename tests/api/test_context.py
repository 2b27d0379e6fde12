"""GET .../context over HTTP: the window's shape, its budget's rule, and a missing session; SQLite and PostgreSQL."""

from __future__ import annotations


def test_the_context_is_the_newest_messages_that_fit_with_their_total(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    batch = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
    stored = client.post("/api/v1/sessions/s1/messages", json={"messages": batch}).get_json()["messages"]
    whole = client.get("/api/v1/sessions/s1/context?max_tokens=1000")
    assert whole.status_code == 200
    assert whole.get_json() == {
        "session_id": "s1",
        "messages": stored,
        "summary": None,
        "tokens": 14,
        "truncated": False,
    }
    newest = client.get("/api/v1/sessions/s1/context?max_tokens=13").get_json()
    assert (newest["messages"], newest["tokens"], newest["truncated"]) == (stored[1:], 4, True)


def test_a_budget_that_is_missing_or_not_a_positive_integer_is_422_naming_it(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    for query, problem in [
        ("", "Missing data for required field."),
        ("?max_tokens=abc", "Not a valid integer."),
        ("?max_tokens=0", "must be a positive integer"),
        ("?max_tokens=10000001", "must be at most 10000000"),
    ]:
        response = client.get(f"/api/v1/sessions/s1/context{query}")
        assert response.status_code == 422 and response.get_json()["errors"] == {"max_tokens": [problem]}


def test_the_context_of_a_missing_session_is_404(client):
    assert client.get("/api/v1/sessions/nope/context?max_tokens=10").status_code == 404


def test_a_summary_is_stored_and_the_context_puts_it_first(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    batch = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
    stored = client.post("/api/v1/sessions/s1/messages", json={"messages": batch}).get_json()["messages"]
    body = {"content": "The user asked for a sum.", "covers_through": stored[0]["id"]}
    created = client.post("/api/v1/sessions/s1/summaries", json=body)
    assert created.status_code == 201
    summary = created.get_json()
    assert set(summary) == {"id", "session_id", "content", "covers_through", "created_at"}
    context = client.get("/api/v1/sessions/s1/context?max_tokens=1000").get_json()
    assert context["summary"] == summary and context["messages"] == stored[1:]
    missing = client.post("/api/v1/sessions/s1/summaries", json={"content": "x", "covers_through": 999_999})
    assert missing.status_code == 422
    assert missing.get_json()["errors"] == {"covers_through": ["must be the id of a message of this session"]}
    assert client.post("/api/v1/sessions/nope/summaries", json=body).status_code == 404
