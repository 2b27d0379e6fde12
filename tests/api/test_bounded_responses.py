"""Responses: UTF-8 without \\u escapes, `//` a JSON 404 that echoes no Host, ids . and .. refused."""

from __future__ import annotations

import pytest

HOSTILE_HOST = "evil.example.net"


def test_json_responses_carry_non_ascii_as_utf8_not_escapes(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    text = "😀é漢" * 1000
    response = client.post("/api/v1/sessions/s1/messages", json={"role": "user", "content": text})
    raw = response.get_data()
    assert response.status_code == 201 and b"\\u" not in raw
    assert text.encode() in raw and len(raw) < len(text.encode()) + 400
    page = client.get("/api/v1/sessions/s1/messages").get_data()
    assert b"\\u" not in page and text.encode() in page


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sessions//messages",
        "/api/v1//sessions",
        "//api/v1/sessions",
        "/api/v1/sessions/s1//stats",
        "/api/v1/sessions/",
    ],
)
def test_a_double_slash_is_a_json_404_not_a_redirect(client, path):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    response = client.get(path, headers={"Host": HOSTILE_HOST})
    assert response.status_code == 404
    assert response.get_json()["code"] == 404
    assert "Location" not in response.headers


def test_no_response_echoes_the_host_header(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    for method, path in [
        ("GET", "/api/v1/sessions//messages"),
        ("GET", "/nowhere"),
        ("POST", "/api/v1/sessions/s1"),
        ("GET", "/api/v1/sessions/s1"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/sessions/x/y/z"),
    ]:
        response = client.open(path, method=method, headers={"Host": HOSTILE_HOST})
        seen = response.get_data(as_text=True) + "".join(f"{k}: {v}" for k, v in response.headers.items())
        assert HOSTILE_HOST not in seen, (method, path)


@pytest.mark.parametrize("session_id", [".", ".."])
def test_a_new_session_cannot_be_named_dot_or_dot_dot(client, stored, session_id):
    response = client.post("/api/v1/sessions", json={"session_id": session_id})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"session_id": ["must not be . or .."]}
    assert stored() == (0, 0)
