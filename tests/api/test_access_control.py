"""jwt mode over the API: each client reaches only its own sessions; intruders get 401 or 404 and change nothing."""

from __future__ import annotations

import pytest

from tests.auth.routes import MISSING_ID, routes, session_routes
from tests.auth.tokens import ADMIN_SCOPE, AUDIENCE, ISSUER, claims, hostile_tokens, public_pem, rsa_key, sign
from tests.rows import dump_rows

KEY = rsa_key()
ALICE = {"Authorization": f"Bearer {sign(KEY, claims('alice'))}"}
BOB = {"Authorization": f"Bearer {sign(KEY, claims('bob'))}"}
OPERATOR = {"Authorization": f"Bearer {sign(KEY, claims('ops', scope=f'openid {ADMIN_SCOPE}'))}"}
INTRUDERS = {
    **{name: {"Authorization": f"Bearer {token}"} for name, token in hostile_tokens(KEY).items()},
    "no header": {},
    "basic scheme": {"Authorization": "Basic YWxpY2U6cHc="},
}


@pytest.fixture
def jwt_app(make_app):
    return make_app(AUTH_MODE="jwt", JWT_PUBLIC_KEY=public_pem(KEY), JWT_AUDIENCE=AUDIENCE, JWT_ISSUER=ISSUER)


@pytest.fixture
def http(jwt_app):
    return jwt_app.test_client()


@pytest.fixture
def alices(http, service):
    """Alice's session with a message, and a legacy session (no owner) with one."""
    created = http.post("/api/v1/sessions", json={"metadata": {"mail": "alice@example.com"}}, headers=ALICE)
    assert created.status_code == 201, created.get_json()
    sid = created.get_json()["session_id"]
    assert (
        http.post(
            f"/api/v1/sessions/{sid}/messages", json={"role": "user", "content": "hello"}, headers=ALICE
        ).status_code
        == 201
    )
    service.get_or_create_session("legacy-1")
    service.save_message("legacy-1", "user", "from before")
    return sid


def call(client, method, path, body, headers):
    return client.open(path, method=method, json=body, headers=headers)


def answer(response):
    """Everything a client sees of a response."""
    # X-Request-ID is new for every request, whoever asks.
    return (
        response.status_code,
        response.get_data(),
        sorted(h for h in response.headers.items() if h[0] != "X-Request-ID"),
    )


def test_every_route_refuses_every_intruder_with_401_and_changes_nothing(http, alices, service):
    before = dump_rows(service.engine)
    for name, headers in INTRUDERS.items():
        for method, path, body in routes(alices):
            response = call(http, method, path, body, headers)
            assert response.status_code == 401, (name, method, path, response.get_json())
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.get_json() == {
                "code": 401,
                "status": "Unauthorized",
                "message": "a valid bearer token is required",
            }
    assert dump_rows(service.engine) == before


@pytest.mark.parametrize("victim", ["alice's", "legacy"])
def test_another_owners_session_answers_exactly_as_a_missing_one(http, alices, service, victim):
    sid = alices if victim == "alice's" else "legacy-1"
    before = dump_rows(service.engine)
    for (method, path, body), (_, missing_path, missing_body) in zip(
        session_routes(sid), session_routes(MISSING_ID), strict=True
    ):
        seen = answer(call(http, method, path, body, BOB))
        missing = answer(call(http, method, missing_path, missing_body, BOB))
        assert seen[0] == 404, (method, path, seen)
        assert seen == missing, (method, path)
    assert dump_rows(service.engine) == before


def test_a_client_lists_only_its_own_sessions_with_count_activity_and_preview(http, alices):
    assert http.post("/api/v1/sessions", headers=BOB).status_code == 201
    listing = http.get("/api/v1/sessions", headers=ALICE).get_json()
    assert [
        (s["session_id"], s["owner"], s["message_count"], s["last_message_preview"]) for s in listing["sessions"]
    ] == [(alices, "alice", 1, "hello")]
    assert listing["sessions"][0]["last_active"] is not None
    assert http.get("/api/v1/sessions?owner=alice", headers=BOB).get_json() == {"sessions": [], "next_cursor": None}


def test_an_operator_reaches_every_session_and_filters_the_listing_by_owner(http, alices):
    assert http.get(f"/api/v1/sessions/{alices}", headers=OPERATOR).get_json()["owner"] == "alice"
    assert (
        http.get("/api/v1/sessions/legacy-1/messages", headers=OPERATOR).get_json()["messages"][0]["content"]
        == "from before"
    )
    every = {s["session_id"] for s in http.get("/api/v1/sessions", headers=OPERATOR).get_json()["sessions"]}
    assert every == {alices, "legacy-1"}
    only = http.get("/api/v1/sessions?owner=alice", headers=OPERATOR).get_json()["sessions"]
    assert [s["session_id"] for s in only] == [alices]


def test_the_owner_does_everything_on_its_own_session(http, alices):
    assert http.post("/api/v1/sessions", json={"session_id": alices}, headers=ALICE).status_code == 200
    assert (
        http.patch(f"/api/v1/sessions/{alices}", json={"metadata": {"plan": "pro"}}, headers=ALICE).status_code == 200
    )
    chat = http.post("/api/v1/chat", json={"session_id": alices, "message": "Hi"}, headers=ALICE)
    assert chat.status_code == 200 and chat.get_json()["reply"]["content"] == "echo: Hi"
    voice = http.post("/api/v1/voice", json={"session_id": alices, "transcript": "Yo"}, headers=ALICE)
    assert voice.status_code == 200
    assert http.get(f"/api/v1/sessions/{alices}/stats", headers=ALICE).get_json()["message_count"] == 5
    assert http.delete(f"/api/v1/sessions/{alices}/messages", headers=ALICE).status_code == 204
    assert http.delete(f"/api/v1/sessions/{alices}", headers=ALICE).status_code == 204
    assert http.get(f"/api/v1/sessions/{alices}", headers=ALICE).status_code == 404


def test_a_client_chosen_id_is_never_created_in_jwt_mode(http, service):
    response = http.post("/api/v1/sessions", json={"session_id": "my-chosen-id"}, headers=ALICE)
    assert response.status_code == 404 and response.get_json()["message"] == "session not found"
    assert dump_rows(service.engine)["sessions"] == []


def test_jwt_mode_with_a_shared_secret(make_app):
    secret = "a-shared-secret-of-at-least-32-bytes!"
    client = make_app(AUTH_MODE="jwt", JWT_SECRET=secret, JWT_AUDIENCE=AUDIENCE, JWT_ISSUER=ISSUER).test_client()
    token = sign(secret, claims("alice"), algorithm="HS256")
    assert client.post("/api/v1/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 201
    assert (
        client.post("/api/v1/sessions", headers={"Authorization": f"Bearer {sign(KEY, claims('alice'))}"}).status_code
        == 401
    )


def test_jwt_mode_without_a_key_refuses_to_start(make_app):
    with pytest.raises(ValueError, match="exactly one"):
        make_app(AUTH_MODE="jwt")


def test_the_probes_need_no_token(http):
    assert http.get("/healthz").status_code == 200


def test_none_mode_keeps_the_admin_token_listing_and_open_sessions(make_app):
    from tests.api.conftest import ADMIN_TOKEN

    client = make_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    assert client.post("/api/v1/sessions", json={"session_id": "s1"}).status_code == 201
    assert client.get("/api/v1/sessions/s1").status_code == 200
    assert client.get("/api/v1/sessions").status_code == 401
    listing = client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()
    assert [(s["session_id"], s["owner"]) for s in listing["sessions"]] == [("s1", None)]


def test_is_operator_answers_for_any_request(jwt_app, make_app):
    from backend.web.auth import is_operator
    from tests.api.conftest import ADMIN_TOKEN

    for headers, expected in ((OPERATOR, True), (ALICE, False), (INTRUDERS["alg none"], False), ({}, False)):
        with jwt_app.test_request_context("/metrics", headers=headers):
            assert is_operator() is expected
    none_app = make_app(ADMIN_TOKEN=ADMIN_TOKEN)
    with none_app.test_request_context("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}):
        assert is_operator() is True
    with none_app.test_request_context("/metrics", headers={"Authorization": "Bearer wrong"}):
        assert is_operator() is False


def test_the_api_description_and_its_browsable_docs_need_no_token_and_say_every_operation_does(http):
    from openapi_spec_validator import validate

    page = http.get("/api/v1/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = http.get(f"/api/v1/docs/assets/{asset}")
        response.close()
        assert response.status_code == 200, asset
    assert http.get("/api/v1/docs/../sessions").status_code in (401, 404)  # no way around the token from there
    spec = http.get("/api/v1/openapi.json").get_json()
    validate(spec)
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    listing = spec["paths"]["/api/v1/sessions"]["get"]["parameters"]
    assert "owner" in {p["name"] for p in listing}
