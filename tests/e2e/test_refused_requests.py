"""Nothing refused goes unseen, under real gunicorn with 2 workers in jwt mode: every answer, 401 to 503, whether
the app, its body deadline or gunicorn itself gave it, carries X-Request-ID, writes its access line and is counted;
refused credentials are counted by reason, and no token reaches the log."""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections import Counter

import pytest
import requests

from tests.auth.tokens import ADMIN_SCOPE, AUDIENCE, ISSUER, JwksServer, claims, jwk_of, rsa_key, sign
from tests.servers import Server, migrate

pytestmark = pytest.mark.slow

TIMEOUT = 10
KEY = rsa_key()
REDIS_URL = "redis://127.0.0.1:6379/0"
REPEAT = 3  # of each kind, each on a new connection: the kernel spreads them over both workers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _now() -> int:
    return int(time.time())


# Refused credentials by the reason the metric gives: each token is sent REPEAT times.
REFUSED_TOKENS = {
    "expired": sign(KEY, claims("alice", exp=_now() - 3600, iat=_now() - 7200), kid="k1"),
    "bad_signature": sign(rsa_key(), claims("alice"), kid="k1"),
    "unknown_key": sign(KEY, claims("alice"), kid="k-unknown"),
    "malformed": "not.a.token",
    "invalid_claims": sign(KEY, claims("alice", aud="another-api"), kid="k1"),
}


@pytest.fixture
def served(tmp_path):
    """gunicorn in jwt mode (keys from a loopback JWKS, read limits counted in Redis), JSON logs; its JWKS."""
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    migrate(url)
    jwks = JwksServer([jwk_of(KEY, "k1")])
    server = Server(
        url,
        tmp_path / "gunicorn.log",
        workers=2,
        AUTH_MODE="jwt",
        JWT_JWKS_URL=jwks.url,
        JWT_AUDIENCE=AUDIENCE,
        JWT_ISSUER=ISSUER,
        JWT_JWKS_COOLDOWN_S="0.2",
        RATE_LIMIT_READS="2/minute",
        RATE_LIMIT_STORAGE_URL=REDIS_URL,
        RATE_LIMIT_KEY_PREFIX=f"refused-{uuid.uuid4().hex}",
        MAX_CONTENT_LENGTH="1000",
        CLIENT_TIMEOUT_S="1",
        LOG_FORMAT="json",
    )
    try:
        yield server.start(timeout_s=60), jwks
    finally:
        server.stop()
        jwks.close()


def raw(server: Server, data: bytes, wait_s: float = 0.0) -> bytes:
    """Send `data` on a new connection, wait, and read the answer until the server closes the connection."""
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as client:
        client.sendall(data)
        time.sleep(wait_s)
        try:
            while chunk := client.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _whole(received):
                    break
        except ConnectionResetError:
            pass
    return received


def _whole(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    return length is not None and len(body) >= int(length.group(1))


def _status_and_id(response: bytes) -> tuple[int, str | None]:
    head = response.partition(b"\r\n\r\n")[0].decode("latin-1")
    found = re.search(r"(?i)^x-request-id: *(\S+)", head, re.M)
    return int(head.split(" ", 2)[1]), found.group(1) if found else None


def _metric(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    values = {}
    for labels, value in re.findall(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M):
        values[tuple(sorted(re.findall(r'(\w+)="([^"]*)"', labels)))] = float(value)
    return values


def test_every_refused_request_has_its_request_id_access_line_and_count(served):
    server, jwks = served
    base = server.base_url
    alice, carol = bearer(sign(KEY, claims("alice"), kid="k1")), bearer(sign(KEY, claims("carol"), kid="k1"))
    sent: dict[str, tuple[int, str, str]] = {}  # request id -> (status answered, method, route)

    def send(kind: str, i: int, method: str, path: str, **kwargs) -> requests.Response:
        rid = f"{kind}-{i}"
        response = requests.request(
            method, base + path, headers={"X-Request-ID": rid, **kwargs.pop("headers", {})}, timeout=TIMEOUT, **kwargs
        )
        assert response.headers.get("X-Request-ID") == rid, (kind, response.status_code, response.headers)
        sent[rid] = (response.status_code, method, path)
        return response

    for i in range(REPEAT):
        assert send("missing", i, "GET", "/api/v1/sessions").status_code == 401
        for reason, token in REFUSED_TOKENS.items():
            assert send(reason, i, "GET", "/api/v1/sessions", headers=bearer(token)).status_code == 401
        assert send("not-found", i, "GET", "/no-such-route").status_code == 404
        too_large = {**alice, "Content-Type": "application/json"}
        assert send("too-large", i, "POST", "/api/v1/sessions", data=b"[" * 5000, headers=too_large).status_code == 413
        as_text = {**alice, "Content-Type": "text/plain"}
        assert send("as-text", i, "POST", "/api/v1/sessions", data=b"hello", headers=as_text).status_code == 415
        invalid = send("invalid", i, "POST", "/api/v1/sessions", json={"metadata": "not an object"}, headers=alice)
        assert invalid.status_code == 422
    for i in range(2 + REPEAT):  # RATE_LIMIT_READS=2/minute, counted in Redis across both workers
        assert send("limited", i, "GET", "/api/v1/sessions", headers=carol).status_code == (200 if i < 2 else 429)

    # The body deadline's 408 and gunicorn's own 414 never reach a view.
    for i in range(REPEAT):
        head = (
            f"POST /api/v1/sessions HTTP/1.1\r\nHost: t\r\nX-Request-ID: slow-{i}\r\n"
            f"Authorization: {alice['Authorization']}\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{{"
        )
        status, rid = _status_and_id(raw(server, head.encode(), wait_s=1.5))
        assert (status, rid) == (408, f"slow-{i}")
        sent[rid] = (408, "POST", "/api/v1/sessions")
        long_line = b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
        status, rid = _status_and_id(raw(server, long_line))
        assert status == 414 and re.fullmatch(r"[0-9a-f]{32}", rid)
        sent[rid] = (414, "other", "unparsed")

    # The identity provider is down: a token with a key the workers never saw cannot be checked.
    jwks.close()
    for i in range(REPEAT):
        fresh_kid = bearer(sign(KEY, claims("alice"), kid=f"k-new-{i}"))
        assert send("keys-down", i, "GET", "/api/v1/sessions", headers=fresh_kid).status_code == 503

    operator = bearer(sign(KEY, claims("ops", scope=ADMIN_SCOPE), kid="k1"))  # k1 is in both workers' caches
    scrape = requests.get(f"{base}/metrics", headers=operator, timeout=TIMEOUT)
    assert scrape.status_code == 200
    server.stop()

    # One access line per request, each with its request id and status, from both workers.
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    access = {line["request_id"]: line for line in lines if line["logger"] == "backend.access"}
    assert {rid: access[rid]["status"] for rid in sent} == {rid: status for rid, (status, _, _) in sent.items()}
    assert len({access[rid]["process"] for rid in sent}) == 2
    statuses = Counter(status for status, _, _ in sent.values())
    assert statuses == {401: 6 * REPEAT, 404: REPEAT, 408: REPEAT, 413: REPEAT, 414: REPEAT, 415: REPEAT,
                        422: REPEAT, 429: REPEAT, 200: 2, 503: REPEAT}  # fmt: skip

    # Counted, added up across both workers, by route template.
    counted = _metric(scrape.text, "session_store_http_requests_total")
    expected = Counter((method, route.replace("/no-such-route", "unmatched"), str(status))
                       for status, method, route in sent.values())  # fmt: skip
    for (method, route, status), count in expected.items():
        assert counted[(("method", method), ("route", route), ("status", status))] == count, (method, route, status)

    # Refused credentials by reason; never a token in the log.
    rejected = _metric(scrape.text, "session_store_auth_rejected_total")
    assert {labels[0][1]: count for labels, count in rejected.items()} == {
        "missing": REPEAT,
        **{reason: REPEAT for reason in REFUSED_TOKENS},
    }
    text = server.log_text()
    for token in (*REFUSED_TOKENS.values(), alice["Authorization"][7:], operator["Authorization"][7:]):
        assert token not in text
    for part in {token.split(".")[1] for token in REFUSED_TOKENS.values() if token.startswith("eyJ")}:
        assert part not in text  # nor the claims of one
