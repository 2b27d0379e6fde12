"""Every error is JSON with a message; nothing leaks a trace, SQL or path; hostile bodies store nothing."""

import pytest

from tests.api.conftest import ADMIN_TOKEN

LEAKS = ("Traceback", 'File "', "/work/", ".py", "SELECT", "INSERT", "sqlalchemy", "psycopg")


def assert_clean_json_error(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == status and isinstance(body["message"], str) and body["message"]
    text = response.get_data(as_text=True)
    assert not any(leak in text for leak in LEAKS), text
    return body


@pytest.mark.parametrize(
    "data", [b"{bad", b'{"a":', b"\xff\xfe\x00", b"[" * 100_000, b'{"metadata":' + b"[" * 5000 + b"]" * 5000 + b"}"]
)
def test_malformed_or_too_deep_json_is_400_and_stores_nothing(client, stored, data):
    response = client.post("/api/v1/sessions", data=data, content_type="application/json")
    assert_clean_json_error(response, 400)
    assert stored() == (0, 0)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_that_is_not_sent_as_json_is_415_and_stores_nothing(client, stored, content_type):
    response = client.post("/api/v1/sessions", data=b'{"session_id": "s1"}', content_type=content_type)
    body = assert_clean_json_error(response, 415)
    assert "application/json" in body["message"]
    assert stored() == (0, 0)


def test_a_post_without_any_body_is_still_a_get_or_create(client, stored):
    assert client.post("/api/v1/sessions").status_code == 201
    assert stored() == (1, 0)


def test_a_body_that_is_not_an_object_is_422(client, stored):
    body = assert_clean_json_error(client.post("/api/v1/sessions", json=[1, 2]), 422)
    assert "body" in body["errors"]
    assert stored() == (0, 0)


def test_a_body_over_the_limit_is_413_and_stores_nothing(make_app, stored):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    big = {"role": "user", "content": "x" * 2000}
    body = assert_clean_json_error(client.post("/api/v1/sessions/s1/messages", json=big), 413)
    assert "1000 bytes" in body["message"]
    assert stored() == (1, 0)


def test_the_default_body_limit_is_one_mebibyte(client):
    response = client.post("/api/v1/sessions", data=b" " * (1024 * 1024 + 1), content_type="application/json")
    assert_clean_json_error(response, 413)


def test_an_unknown_route_is_404(client):
    assert_clean_json_error(client.get("/api/v1/nothing-here"), 404)
    assert_clean_json_error(client.get("/"), 404)


def test_a_wrong_method_is_405_with_allow(client):
    response = client.put("/api/v1/sessions/s1")
    assert_clean_json_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}
    assert_clean_json_error(client.get("/api/v1/chat"), 405)


def test_an_unexpected_failure_is_a_bare_500(app, monkeypatch):
    from backend.services.session import SessionService

    def explode(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM /work/main/backend/x.py")

    monkeypatch.setattr(SessionService, "get_session", explode)
    body = assert_clean_json_error(app.test_client().get("/api/v1/sessions/s1"), 500)
    assert body["message"] == "internal server error"


@pytest.mark.parametrize("path", ["a%2Fb", "..%2F..%2Fetc%2Fpasswd", "%2F", "a%2Fmessages%2Fx"])
def test_ids_with_encoded_slashes_are_a_clean_404(client, path):
    assert_clean_json_error(client.get(f"/api/v1/sessions/{path}"), 404)


@pytest.mark.parametrize("path", ["a%00b", "%00"])
def test_ids_with_nul_are_a_clean_422(client, path):
    body = assert_clean_json_error(client.get(f"/api/v1/sessions/{path}"), 422)
    assert "session_id" in body["errors"]


def test_a_very_long_or_odd_id_is_a_clean_404(client):
    assert_clean_json_error(client.get("/api/v1/sessions/" + "x" * 10_000), 404)
    assert_clean_json_error(client.get("/api/v1/sessions/'%3B DROP TABLE sessions;--"), 404)
    assert_clean_json_error(client.get("/api/v1/sessions/%F0%9F%92%A5%FF"), 404)


def test_unicode_and_metacharacters_are_stored_and_returned_exactly(client):
    text = "emoji 👩‍👩‍👧 ñ 中文 '; DROP TABLE sessions; -- $(rm -rf /) `id` \\ \" \u202e"
    client.post("/api/v1/sessions", json={"session_id": "s1", "metadata": {"t": text}})
    message = client.post("/api/v1/sessions/s1/messages", json={"role": "user", "content": text}).get_json()
    assert message["content"] == text
    assert client.get("/api/v1/sessions/s1/messages").get_json()["messages"][0]["content"] == text
    assert client.get("/api/v1/sessions/s1").get_json()["metadata"] == {"t": text}


def test_an_unreachable_database_is_503_with_a_reason(make_app):
    from backend import create_app
    from backend.settings import TestingConfig

    down = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    client = create_app(
        TestingConfig(DATABASE_URL=down, ADMIN_TOKEN=ADMIN_TOKEN, CHAT_AGENT=None, CHAT_AGENT_URL=None)
    ).test_client()
    for response in (
        client.get("/api/v1/sessions/s1"),
        client.post("/api/v1/sessions", json={}),
        client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"}),
        client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        client.get("/readyz"),
    ):
        body = assert_clean_json_error(response, 503)
        assert "database" in body["message"]
        assert response.headers["Retry-After"]
    assert client.get("/healthz").status_code == 200


def test_cors_is_off_unless_origins_are_listed(make_app):
    plain = make_app().test_client().get("/healthz", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in plain.headers
    client = make_app(CORS_ORIGINS=("https://app.example",)).test_client()
    allowed = client.get("/api/v1/openapi.json", headers={"Origin": "https://app.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    other = client.get("/api/v1/openapi.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        "/api/v1/chat", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
