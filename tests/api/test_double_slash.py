"""A path with `//` is a 404 like any unknown path, for every method: werkzeug would match `//api/v1/sessions/x`
as `/api/v1/sessions/x`, and with merge_slashes redirect `/api/v1//sessions` to `/api/v1/sessions`."""

from __future__ import annotations

import logging

import pytest

from tests.api.conftest import ADMIN_TOKEN

DOUBLED = ["//api/v1/sessions/x", "/api/v1//sessions", "/api/v1/sessions//x", "///api/v1/sessions/x", "//healthz"]


def raw_path(client, method: str, path: str, **kwargs):
    """`path` as gunicorn hands it over (PATH_INFO as sent). The test client would read a path that starts with
    `//` as a host name followed by a path (`//api/v1/...` as host `api`, path `/v1/...`)."""
    environ = {"PATH_INFO": path, "RAW_URI": path, "REQUEST_URI": path}
    return client.open(path, method=method, environ_overrides=environ, **kwargs)


def assert_unknown_path(response, client):
    """A 404 in the app's JSON error shape, the same as a path that no route has."""
    unknown = client.get("/api/v1/no-such-route")
    assert response.status_code == unknown.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == unknown.get_json()
    assert set(response.get_json()) == {"code", "message", "status"}
    assert response.headers.get("X-Request-ID")  # the app answered, its hooks ran as for any request
    assert "Location" not in response.headers


@pytest.fixture
def session_x(client):
    """Session `x` exists: a `//` path that reached its route would answer 200 or change it."""
    assert client.post("/api/v1/sessions", json={"session_id": "x"}).status_code == 201
    return client.get("/api/v1/sessions/x").get_json()


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", DOUBLED)
def test_a_path_with_a_double_slash_is_404_for_every_method(client, session_x, method, path):
    body = {"session_id": "x", "metadata": {"changed": True}} if method in ("POST", "PATCH") else None
    assert_unknown_path(raw_path(client, method, path, json=body), client)
    # Nothing reached a view: the session is as it was.
    assert client.get("/api/v1/sessions/x").get_json() == session_x


def test_the_path_without_the_double_slash_still_works(client, session_x):
    assert client.get("/api/v1/sessions/x").status_code == 200
    assert raw_path(client, "GET", "/api/v1/sessions/x").status_code == 200
    patched = client.patch("/api/v1/sessions/x", json={"metadata": {"k": "v"}})
    assert patched.status_code == 200 and patched.get_json()["metadata"] == {"k": "v"}
    assert client.post("/api/v1/sessions", json={"session_id": "x"}).status_code == 200
    assert client.delete("/api/v1/sessions/x").status_code == 204
    assert client.get("/api/v1/sessions/x").status_code == 404


def test_the_access_line_calls_it_unmatched(client, caplog):
    caplog.set_level(logging.INFO, logger="backend.access")
    raw_path(client, "GET", "//api/v1/sessions/x")
    lines = [r.getMessage() for r in caplog.records if r.name == "backend.access"]
    assert lines and lines[-1].startswith("GET unmatched 404")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/api/v1/openapi.json", 200),
        ("/api/v1/docs", 200),
        ("/api/v1/docs/assets/swagger-ui.css", 200),
        ("/metrics", 200),
        # Trailing slashes as before: a route is served at its one spelling.
        ("/api/v1/docs/", 404),
        ("/api/v1/sessions/", 404),
        ("/healthz/", 404),
    ],
)
def test_the_other_routes_are_as_they_were(make_app, path, status):
    client = make_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    response = raw_path(client, "GET", path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    response.close()  # a docs asset is a file
    assert response.status_code == status
