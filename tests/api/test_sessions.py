"""Sessions over HTTP: get-or-create, read, update, delete, stats; on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest


def parse_time(text):
    value = datetime.fromisoformat(text)
    assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 0
    return value


def test_post_creates_a_session_with_201_and_the_documented_shape(client):
    response = client.post(
        "/api/v1/sessions", json={"session_id": "s1", "device_fingerprint": "fp", "metadata": {"a": 1}}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {
        "session_id",
        "device_fingerprint",
        "created_at",
        "last_active",
        "message_count",
        "metadata",
        "owner",
    }
    assert body["owner"] is None  # none mode: sessions belong to no one
    assert (body["session_id"], body["device_fingerprint"], body["metadata"], body["message_count"]) == (
        "s1",
        "fp",
        {"a": 1},
        0,
    )
    assert abs(parse_time(body["created_at"]) - datetime.now(UTC)).total_seconds() < 30
    parse_time(body["last_active"])


def test_post_without_a_body_generates_an_unguessable_id(client):
    ids = {client.post("/api/v1/sessions").get_json()["session_id"] for _ in range(5)}
    assert len(ids) == 5 and all(len(i) >= 32 for i in ids)


def test_post_for_an_existing_session_answers_200_and_only_refreshes_last_active(client):
    first = client.post("/api/v1/sessions", json={"session_id": "s1", "metadata": {"a": 1}}).get_json()
    again = client.post("/api/v1/sessions", json={"session_id": "s1", "metadata": {"b": 2}, "device_fingerprint": "x"})
    assert again.status_code == 200
    body = again.get_json()
    assert body["metadata"] == {"a": 1} and body["device_fingerprint"] is None
    assert parse_time(body["last_active"]) > parse_time(first["last_active"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"session_id": "has space"}, "session_id"),
        ({"session_id": "x" * 129}, "session_id"),
        ({"session_id": 5}, "session_id"),
        ({"metadata": [1]}, "metadata"),
        ({"metadata": {"big": "x" * 20_000}}, "metadata"),
        ({"device_fingerprint": 7}, "device_fingerprint"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_post_with_a_bad_field_is_422_naming_it_and_stores_nothing(client, stored, body, field):
    response = client.post("/api/v1/sessions", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert stored() == (0, 0)


def test_get_reads_a_session_and_404s_an_unknown_one(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    assert client.get("/api/v1/sessions/s1").get_json()["session_id"] == "s1"
    missing = client.get("/api/v1/sessions/nope")
    assert missing.status_code == 404 and missing.get_json()["message"] == "session not found"


def test_patch_merges_metadata_and_a_null_removes_a_key(client):
    client.post("/api/v1/sessions", json={"session_id": "s1", "metadata": {"a": 1, "b": 2}, "device_fingerprint": "fp"})
    response = client.patch("/api/v1/sessions/s1", json={"metadata": {"b": None, "c": 3}})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"a": 1, "c": 3}
    assert response.get_json()["device_fingerprint"] == "fp"


def test_patch_sets_or_clears_the_fingerprint_only_when_present(client):
    client.post("/api/v1/sessions", json={"session_id": "s1", "device_fingerprint": "fp"})
    assert client.patch("/api/v1/sessions/s1", json={}).get_json()["device_fingerprint"] == "fp"
    assert (
        client.patch("/api/v1/sessions/s1", json={"device_fingerprint": "new"}).get_json()["device_fingerprint"]
        == "new"
    )
    assert (
        client.patch("/api/v1/sessions/s1", json={"device_fingerprint": None}).get_json()["device_fingerprint"] is None
    )


def test_patch_of_an_unknown_session_is_404_and_a_bad_body_422(client):
    assert client.patch("/api/v1/sessions/nope", json={"metadata": {}}).status_code == 404
    client.post("/api/v1/sessions", json={"session_id": "s1", "metadata": {"a": 1}})
    for body in ({"metadata": "x"}, {"session_id": "other"}, {"metadata": {"k": "x" * 20_000}}):
        response = client.patch("/api/v1/sessions/s1", json=body)
        assert response.status_code == 422, body
    assert client.get("/api/v1/sessions/s1").get_json()["metadata"] == {"a": 1}


def test_delete_removes_the_session_and_its_messages(client, stored):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    client.post("/api/v1/sessions/s1/messages", json={"role": "user", "content": "hi"})
    response = client.delete("/api/v1/sessions/s1")
    assert response.status_code == 204 and response.data == b""
    assert stored() == (0, 0)
    assert client.delete("/api/v1/sessions/s1").status_code == 404


def test_stats_counts_per_role_with_first_and_last_message_times(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    for role in ("user", "assistant", "user"):
        client.post("/api/v1/sessions/s1/messages", json={"role": role, "content": "m"})
    body = client.get("/api/v1/sessions/s1/stats").get_json()
    assert body["message_count"] == 3 and body["messages_by_role"] == {"user": 2, "assistant": 1}
    assert parse_time(body["first_message_at"]) <= parse_time(body["last_message_at"])
    assert set(body) == {
        "session_id",
        "message_count",
        "created_at",
        "last_active",
        "first_message_at",
        "last_message_at",
        "messages_by_role",
    }
    assert client.get("/api/v1/sessions/nope/stats").status_code == 404


def test_stats_of_an_empty_session_has_null_message_times(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    body = client.get("/api/v1/sessions/s1/stats").get_json()
    assert body["first_message_at"] is None and body["last_message_at"] is None and body["messages_by_role"] == {}
