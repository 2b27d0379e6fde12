"""Over HTTP (in process): ETag / If-Match / If-None-Match on sessions, Idempotency-Key on POSTs, and their
documentation."""

from __future__ import annotations

import pytest


@pytest.fixture
def session_etag(client):
    response = client.post("/api/v1/sessions", json={"session_id": "s1", "metadata": {"plan": "free"}})
    assert response.status_code == 201
    return response.headers["ETag"]


def test_a_session_carries_an_etag_that_changes_with_metadata_and_fingerprint_only(client, session_etag):
    assert client.get("/api/v1/sessions/s1").headers["ETag"] == session_etag
    client.post("/api/v1/sessions/s1/messages", json={"role": "user", "content": "hi"})
    assert client.get("/api/v1/sessions/s1").headers["ETag"] == session_etag
    after_metadata = client.patch("/api/v1/sessions/s1", json={"metadata": {"plan": "pro"}}).headers["ETag"]
    after_fingerprint = client.patch("/api/v1/sessions/s1", json={"device_fingerprint": "phone"}).headers["ETag"]
    assert len({session_etag, after_metadata, after_fingerprint}) == 3
    assert client.get("/api/v1/sessions/s1").headers["ETag"] == after_fingerprint


def test_a_patch_with_a_stale_if_match_is_refused_with_412_and_changes_nothing(client, session_etag):
    client.patch("/api/v1/sessions/s1", json={"metadata": {"plan": "pro"}})
    stale = client.patch("/api/v1/sessions/s1", json={"metadata": {"plan": "team"}}, headers={"If-Match": session_etag})
    assert stale.status_code == 412
    assert stale.json["status"] == "Precondition Failed"
    assert client.get("/api/v1/sessions/s1").json["metadata"] == {"plan": "pro"}
    assert stale.headers["ETag"] == client.get("/api/v1/sessions/s1").headers["ETag"]


def test_a_patch_with_the_current_if_match_applies(client, session_etag):
    response = client.patch(
        "/api/v1/sessions/s1", json={"metadata": {"plan": "pro"}}, headers={"If-Match": session_etag}
    )
    assert response.status_code == 200 and response.json["metadata"] == {"plan": "pro"}
    assert (
        client.patch("/api/v1/sessions/s1", json={"metadata": {"x": 1}}, headers={"If-Match": "*"}).status_code == 200
    )


def test_a_weak_if_match_never_matches(client, session_etag):
    weak = client.patch(
        "/api/v1/sessions/s1", json={"metadata": {"plan": "pro"}}, headers={"If-Match": "W/" + session_etag}
    )
    assert weak.status_code == 412


def test_without_if_match_patch_and_delete_behave_as_before(client, session_etag):
    assert client.patch("/api/v1/sessions/s1", json={"metadata": {"plan": "pro"}}).status_code == 200
    assert client.delete("/api/v1/sessions/s1").status_code == 204


def test_a_delete_with_a_stale_if_match_keeps_the_session(client, session_etag):
    client.patch("/api/v1/sessions/s1", json={"device_fingerprint": "phone"})
    assert client.delete("/api/v1/sessions/s1", headers={"If-Match": session_etag}).status_code == 412
    current = client.get("/api/v1/sessions/s1").headers["ETag"]
    assert client.delete("/api/v1/sessions/s1", headers={"If-Match": current}).status_code == 204
    assert client.get("/api/v1/sessions/s1").status_code == 404


def test_a_get_with_the_current_if_none_match_answers_304_with_no_body(client, session_etag):
    response = client.get("/api/v1/sessions/s1", headers={"If-None-Match": session_etag})
    assert response.status_code == 304 and response.data == b"" and response.headers["ETag"] == session_etag
    client.patch("/api/v1/sessions/s1", json={"metadata": {"plan": "pro"}})
    changed = client.get("/api/v1/sessions/s1", headers={"If-None-Match": session_etag})
    assert changed.status_code == 200 and changed.json["metadata"] == {"plan": "pro"}


def test_a_repeated_post_with_an_idempotency_key_answers_the_same_bytes_and_stores_once(client, stored):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    send = lambda: client.post(
        "/api/v1/sessions/s1/messages",
        json={"role": "user", "content": "hi"},
        headers={"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'},
    )
    first, again = send(), send()
    assert (first.status_code, again.status_code) == (201, 201) and again.data == first.data
    assert stored() == (1, 1)


def test_a_repeated_session_create_with_a_key_answers_201_again_with_the_same_session(client, stored):
    send = lambda: client.post("/api/v1/sessions", json={"metadata": {"a": 1}}, headers={"Idempotency-Key": "create-1"})
    first, again = send(), send()
    assert (first.status_code, again.status_code) == (201, 201) and again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"] and stored() == (1, 0)


def test_the_same_key_with_another_body_answers_422_and_stores_nothing(client, stored):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    headers = {"Idempotency-Key": "k"}
    client.post("/api/v1/sessions/s1/messages", json={"role": "user", "content": "hi"}, headers=headers)
    other = client.post("/api/v1/sessions/s1/messages", json={"role": "user", "content": "bye"}, headers=headers)
    assert other.status_code == 422 and "different request" in other.json["message"]
    assert stored() == (1, 1)


def test_a_key_that_is_not_printable_ascii_is_a_422_naming_it(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    response = client.post(
        "/api/v1/sessions/s1/messages", json={"role": "user", "content": "hi"}, headers={"Idempotency-Key": "x" * 256}
    )
    assert response.status_code == 422 and "idempotency_key" in response.json["errors"]


def test_a_repeated_chat_with_a_key_replays_the_exchange(client, stored):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    send = lambda: client.post(
        "/api/v1/chat", json={"session_id": "s1", "message": "hi"}, headers={"Idempotency-Key": "t1"}
    )
    first, again = send(), send()
    assert (first.status_code, again.status_code) == (200, 200) and again.data == first.data
    assert stored() == (1, 2)


def test_the_openapi_document_names_every_new_header_and_status(client):
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    for path in ("/api/v1/sessions", "/api/v1/sessions/{session_id}/messages", "/api/v1/chat", "/api/v1/voice"):
        post = paths[path]["post"]
        assert "Idempotency-Key" in [p["name"] for p in post["parameters"] if p["in"] == "header"], path
        assert {"409", "507"} <= set(post["responses"]), path
    one = paths["/api/v1/sessions/{session_id}"]
    assert "If-None-Match" in [p["name"] for p in one["get"]["parameters"]]
    assert "304" in one["get"]["responses"] and "ETag" in one["get"]["responses"]["200"]["headers"]
    for method in ("patch", "delete"):
        assert "If-Match" in [p["name"] for p in one[method]["parameters"]]
        assert "412" in one[method]["responses"]


@pytest.mark.parametrize("header", ['""', "W/", ",", "garbage without quotes"])
def test_a_malformed_if_match_is_a_412_never_a_500(client, session_etag, header):
    response = client.patch("/api/v1/sessions/s1", json={"metadata": {"plan": "pro"}}, headers={"If-Match": header})
    assert response.status_code == 412
    assert client.get("/api/v1/sessions/s1").json["metadata"] == {"plan": "free"}
