"""Access control end to end: gunicorn with 2 workers, keys from a loopback JWKS, counts in Redis."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from backend.services.session import SessionService
from backend.store.engines import get_engine
from tests.auth.routes import MISSING_ID, routes, session_routes
from tests.auth.tokens import ADMIN_SCOPE, AUDIENCE, ISSUER, JwksServer, claims, hostile_tokens, jwk_of, rsa_key, sign
from tests.rows import dump_rows
from tests.servers import Server

pytestmark = pytest.mark.slow

TIMEOUT = 10
KEY = rsa_key()
REDIS_URL = "redis://127.0.0.1:6379/0"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


ALICE, BOB = bearer(sign(KEY, claims("alice"), kid="k1")), bearer(sign(KEY, claims("bob"), kid="k1"))
OPERATOR = bearer(sign(KEY, claims("ops", scope=ADMIN_SCOPE), kid="k1"))


@pytest.fixture
def jwks():
    server = JwksServer([jwk_of(KEY, "k1")])
    yield server
    server.close()


@pytest.fixture
def launch(operator_database, jwks, tmp_path):
    """Start gunicorn (2 workers) in jwt mode against the JWKS, with extra settings; stopped afterwards."""
    started = []

    def start(extra_args: tuple[str, ...] = (), **settings: str) -> Server:
        server = Server(
            operator_database,
            tmp_path / f"gunicorn-{len(started)}.log",
            workers=2,
            extra_args=extra_args,
            AUTH_MODE="jwt",
            JWT_JWKS_URL=jwks.url,
            JWT_AUDIENCE=AUDIENCE,
            JWT_ISSUER=ISSUER,
            JWT_JWKS_COOLDOWN_S="0.2",
            RATE_LIMIT_STORAGE_URL=REDIS_URL,
            RATE_LIMIT_KEY_PREFIX=f"e2e-{uuid.uuid4().hex}",
            **settings,
        )
        started.append(server)
        return server.start(timeout_s=60)

    yield start
    for server in started:
        server.stop()


def seen(response: requests.Response):
    """Everything a client sees of an answer but its Date."""
    return (
        response.status_code,
        response.content,
        sorted(
            (k, v)
            for k, v in response.headers.items()
            if k not in ("Date", "X-Request-ID")  # new for every request
        ),
    )


def test_every_intruder_gets_401_or_404_and_the_database_is_unchanged(launch, operator_database, jwks):
    base = launch().base_url
    http = requests.Session()
    created = http.post(
        f"{base}/api/v1/sessions", json={"metadata": {"mail": "alice@example.com"}}, headers=ALICE, timeout=TIMEOUT
    )
    assert created.status_code == 201, created.text
    sid = created.json()["session_id"]
    http.post(
        f"{base}/api/v1/sessions/{sid}/messages",
        json={"role": "user", "content": "hello"},
        headers=ALICE,
        timeout=TIMEOUT,
    ).raise_for_status()
    SessionService(operator_database).save_message(
        SessionService(operator_database).get_or_create_session("legacy-1").session_id, "user", "old"
    )
    engine = get_engine(operator_database)
    before = dump_rows(engine)

    for name, token in hostile_tokens(KEY, kid="k1").items():
        for method, path, body in routes(sid):
            response = http.request(method, base + path, json=body, headers=bearer(token), timeout=TIMEOUT)
            assert response.status_code == 401, (name, method, path, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer" and response.json()["code"] == 401
    for target in (sid, "legacy-1"):
        for (method, path, body), (_, missing_path, missing_body) in zip(
            session_routes(target), session_routes(MISSING_ID), strict=True
        ):
            intruded = seen(http.request(method, base + path, json=body, headers=BOB, timeout=TIMEOUT))
            missing = seen(http.request(method, base + missing_path, json=missing_body, headers=BOB, timeout=TIMEOUT))
            assert intruded[0] == 404 and intruded == missing, (target, method, path)
    assert http.get(f"{base}/api/v1/sessions", headers=BOB, timeout=TIMEOUT).json()["sessions"] == []
    assert dump_rows(engine) == before

    # The owner and an operator still reach what is theirs to reach.
    assert http.get(f"{base}/api/v1/sessions/{sid}", headers=ALICE, timeout=TIMEOUT).json()["owner"] == "alice"
    assert http.get(f"{base}/api/v1/sessions/legacy-1", headers=OPERATOR, timeout=TIMEOUT).status_code == 200

    # Key rotation at the identity provider: once the refetch cooldown (0.2 s here) has passed,
    # every worker picks up the new key on its first token with the new kid.
    new_key = rsa_key()
    jwks.keys = [jwk_of(new_key, "k2")]
    time.sleep(0.5)
    rotated = bearer(sign(new_key, claims("alice"), kid="k2"))
    answers = {
        requests.get(f"{base}/api/v1/sessions/{sid}", headers=rotated, timeout=TIMEOUT).status_code for _ in range(10)
    }
    assert answers == {200}


def test_a_rate_limit_holds_across_two_workers_through_redis(launch, operator_database):
    limit = 10
    # Each access line names the worker (process id) that answered, so the test can tell both took part.
    server = launch(RATE_LIMIT_WRITES=f"{limit}/minute", LOG_FORMAT="json")
    base = server.base_url
    # On a loaded machine one worker may happen to accept a whole burst: then the burst proves
    # nothing about sharing, and it is repeated for a new owner (at most 5 times).
    for attempt in range(5):
        carol = bearer(sign(KEY, claims(f"carol-{attempt}"), kid="k1"))
        sid = requests.post(f"{base}/api/v1/sessions", headers=carol, timeout=TIMEOUT).json()["session_id"]  # write 1
        seen = len(server.log_text().splitlines())

        def append(i: int) -> requests.Response:
            return requests.post(
                f"{base}/api/v1/sessions/{sid}/messages",
                json={"role": "user", "content": f"m{i}"},
                headers=carol,
                timeout=TIMEOUT,
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(append, range(2 * limit)))
        statuses = [a.status_code for a in answers]
        assert statuses.count(201) == limit - 1 and statuses.count(429) == limit + 1, statuses
        refused = next(a for a in answers if a.status_code == 429)
        assert int(refused.headers["Retry-After"]) >= 1 and refused.json()["code"] == 429
        assert SessionService(operator_database).get_session(sid).message_count == limit - 1  # a 429 stored nothing
        records = [json.loads(line) for line in server.log_text().splitlines()[seen:] if line.startswith("{")]
        workers = {r["process"] for r in records if r.get("event") == "access" and r.get("method") == "POST"}
        if len(workers) == 2:
            break
    else:
        raise AssertionError(
            "in 5 bursts, one worker answered every request: sharing through Redis was never exercised"
        )
    dave = bearer(sign(KEY, claims("dave"), kid="k1"))
    assert requests.post(f"{base}/api/v1/sessions", headers=dave, timeout=TIMEOUT).status_code == 201


def test_a_history_page_is_bounded_in_bytes_over_http(launch, operator_database):
    base = launch(MAX_PAGE_BYTES="100000").base_url
    sid = requests.post(f"{base}/api/v1/sessions", headers=ALICE, timeout=TIMEOUT).json()["session_id"]
    service = SessionService(operator_database)
    ids = [service.save_message(sid, "user", "😀" * 10_000) for _ in range(12)]  # 40,000 bytes each
    pages, before = [], None
    while True:
        response = requests.get(
            f"{base}/api/v1/sessions/{sid}/messages",
            params={"limit": 500, **({"before": before} if before else {})},
            headers=ALICE,
            timeout=TIMEOUT,
        )
        assert response.status_code == 200 and b"\\u" not in response.content
        assert len(response.content) < 100_000 + 2_000
        pages.append([m["id"] for m in response.json()["messages"]])
        before = response.json()["next_before"]
        if before is None:
            break
    assert [len(p) for p in pages] == [2] * 6
    assert [i for page in reversed(pages) for i in page] == ids
