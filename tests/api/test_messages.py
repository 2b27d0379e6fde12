"""Messages over HTTP: append, page through history, clear; on SQLite and PostgreSQL."""

import pytest


@pytest.fixture
def session(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    return "s1"


def append(client, n, session_id="s1"):
    return [
        client.post(f"/api/v1/sessions/{session_id}/messages", json={"role": "user", "content": f"m{i}"}).get_json()[
            "id"
        ]
        for i in range(n)
    ]


def test_post_appends_a_message_and_counts_it(client, session):
    response = client.post(
        "/api/v1/sessions/s1/messages", json={"role": "assistant", "content": "héllo 👋", "metadata": {"k": [1, "二"]}}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "session_id", "role", "content", "timestamp", "metadata"}
    assert (body["role"], body["content"], body["metadata"]) == ("assistant", "héllo 👋", {"k": [1, "二"]})
    assert body["timestamp"].endswith("+00:00")
    assert client.get("/api/v1/sessions/s1").get_json()["message_count"] == 1


def test_post_to_an_unknown_session_is_404_and_stores_nothing(client, stored):
    response = client.post("/api/v1/sessions/nope/messages", json={"role": "user", "content": "hi"})
    assert response.status_code == 404
    assert stored() == (0, 0)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"role": "admin", "content": "x"}, "role"),
        ({"content": "x"}, "role"),
        ({"role": "user"}, "content"),
        ({"role": "user", "content": ""}, "content"),
        ({"role": "user", "content": 5}, "content"),
        ({"role": "user", "content": "a\x00b"}, "content"),
        ({"role": "user", "content": "x" * 100_001}, "content"),
        ({"role": "user", "content": "x", "metadata": 3}, "metadata"),
        ({"role": "user", "content": "x", "extra": True}, "extra"),
    ],
)
def test_a_bad_message_is_422_naming_the_field_and_stores_nothing(client, session, stored, body, field):
    response = client.post("/api/v1/sessions/s1/messages", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert stored() == (1, 0)
    assert client.get("/api/v1/sessions/s1").get_json()["message_count"] == 0


def test_history_pages_backwards_from_the_newest_oldest_first(client, session):
    ids = append(client, 5)
    first = client.get("/api/v1/sessions/s1/messages?limit=2").get_json()
    assert [m["id"] for m in first["messages"]] == ids[3:5]
    assert first["session_id"] == "s1" and first["next_before"] == ids[3]
    second = client.get(f"/api/v1/sessions/s1/messages?limit=2&before={first['next_before']}").get_json()
    assert [m["id"] for m in second["messages"]] == ids[1:3] and second["next_before"] == ids[1]
    last = client.get(f"/api/v1/sessions/s1/messages?limit=2&before={second['next_before']}").get_json()
    assert [m["id"] for m in last["messages"]] == ids[:1] and last["next_before"] is None


def test_history_that_fits_one_page_has_no_next_before(client, session):
    ids = append(client, 3)
    body = client.get("/api/v1/sessions/s1/messages").get_json()
    assert [m["id"] for m in body["messages"]] == ids and body["next_before"] is None
    exact = client.get("/api/v1/sessions/s1/messages?limit=3").get_json()
    assert exact["next_before"] is None


def test_history_of_an_empty_session_is_empty_and_of_an_unknown_one_404(client, session):
    assert client.get("/api/v1/sessions/s1/messages").get_json() == {
        "session_id": "s1",
        "messages": [],
        "next_before": None,
    }
    assert client.get("/api/v1/sessions/nope/messages").status_code == 404


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "before=0", "before=-3", "before=x"])
def test_history_with_a_bad_limit_or_before_is_422(client, session, query):
    response = client.get(f"/api/v1/sessions/s1/messages?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["errors"]


def test_history_accepts_the_largest_limit(client, session):
    append(client, 2)
    assert len(client.get("/api/v1/sessions/s1/messages?limit=500").get_json()["messages"]) == 2


def test_delete_clears_the_history_and_keeps_the_session(client, session, stored):
    append(client, 3)
    response = client.delete("/api/v1/sessions/s1/messages")
    assert response.status_code == 204
    assert stored() == (1, 0)
    assert client.get("/api/v1/sessions/s1").get_json()["message_count"] == 0
    assert client.delete("/api/v1/sessions/nope/messages").status_code == 404
