"""Rate limits on reads, writes and turns: per owner in jwt mode, per address in none mode; 429 with Retry-After."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.auth.tokens import AUDIENCE, ISSUER, claims, public_pem, rsa_key, sign

KEY = rsa_key()
ALICE = {"Authorization": f"Bearer {sign(KEY, claims('alice'))}"}
BOB = {"Authorization": f"Bearer {sign(KEY, claims('bob'))}"}
REDIS_URL = "redis://127.0.0.1:6379/0"


def jwt_settings(**limits):
    return dict(
        AUTH_MODE="jwt",
        JWT_PUBLIC_KEY=public_pem(KEY),
        JWT_AUDIENCE=AUDIENCE,
        JWT_ISSUER=ISSUER,
        RATE_LIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        **limits,
    )


def assert_limited(response, what: str):
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.get_json() == {
        "code": 429,
        "status": "Too Many Requests",
        "message": f"too many {what}: at most 3 per 1 minute",
    }


def test_writes_over_the_limit_answer_429_per_owner(make_app, stored):
    client = make_app(**jwt_settings(RATE_LIMIT_WRITES="3/minute")).test_client()
    assert [client.post("/api/v1/sessions", headers=ALICE).status_code for _ in range(3)] == [201] * 3
    assert_limited(client.post("/api/v1/sessions", headers=ALICE), "writes")
    assert stored() == (3, 0)  # the refused request stored nothing
    assert client.post("/api/v1/sessions", headers=BOB).status_code == 201  # Bob has his own count
    assert client.get("/api/v1/sessions", headers=ALICE).status_code == 200  # reads are not limited


def test_reads_and_turns_have_their_own_limits(make_app):
    client = make_app(**jwt_settings(RATE_LIMIT_READS="3/minute", RATE_LIMIT_TURNS="3/minute")).test_client()
    sid = client.post("/api/v1/sessions", headers=ALICE).get_json()["session_id"]
    for _ in range(3):
        assert client.get(f"/api/v1/sessions/{sid}", headers=ALICE).status_code == 200
    assert_limited(client.get(f"/api/v1/sessions/{sid}/messages", headers=ALICE), "reads")
    for _ in range(3):
        assert client.post("/api/v1/chat", json={"session_id": sid, "message": "hi"}, headers=ALICE).status_code == 200
    assert_limited(client.post("/api/v1/voice", json={"session_id": sid, "transcript": "hi"}, headers=ALICE), "turns")


def test_none_mode_counts_per_client_address(make_app):
    client = make_app(RATE_LIMIT_WRITES="3/minute", RATE_LIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}").test_client()
    here = {"REMOTE_ADDR": "10.0.0.1"}
    assert [client.post("/api/v1/sessions", environ_base=here).status_code for _ in range(3)] == [201] * 3
    assert_limited(client.post("/api/v1/sessions", environ_base=here), "writes")
    assert client.post("/api/v1/sessions", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 201


def test_the_counts_live_in_redis_under_the_key_prefix(make_app):
    settings = jwt_settings(RATE_LIMIT_WRITES="3/minute", RATE_LIMIT_STORAGE_URL=REDIS_URL)
    first, second = (make_app(**settings).test_client() for _ in range(2))  # two apps share one count
    assert [first.post("/api/v1/sessions", headers=ALICE).status_code for _ in range(2)] == [201] * 2
    assert second.post("/api/v1/sessions", headers=ALICE).status_code == 201
    assert_limited(second.post("/api/v1/sessions", headers=ALICE), "writes")
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*{settings['RATE_LIMIT_KEY_PREFIX']}*")
    assert keys


def test_an_unreachable_rate_limit_store_is_503_and_stores_nothing(make_app, stored):
    client = make_app(
        **jwt_settings(RATE_LIMIT_WRITES="3/minute", RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:9/0")
    ).test_client()
    response = client.post("/api/v1/sessions", headers=ALICE)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert stored() == (0, 0)


def test_a_limit_not_in_the_limits_notation_stops_the_app_at_start(make_app):
    with pytest.raises(ValueError):
        make_app(RATE_LIMIT_READS="lots")


def test_readiness_says_503_while_the_rate_limit_store_does_not_answer(make_app):
    down = make_app(**jwt_settings(RATE_LIMIT_WRITES="3/minute", RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:9/0"))
    response = down.test_client().get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json()["message"] == "the rate-limit store (RATE_LIMIT_STORAGE_URL) does not answer"
    up = make_app(**jwt_settings(RATE_LIMIT_WRITES="3/minute", RATE_LIMIT_STORAGE_URL=REDIS_URL))
    assert up.test_client().get("/readyz").status_code == 200
    unlimited = make_app(RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:9/0")  # no limit set: the store is not used
    assert unlimited.test_client().get("/readyz").status_code == 200
