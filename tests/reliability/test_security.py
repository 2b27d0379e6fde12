"""Security: operator token, unguessable ids, error bodies that reveal nothing, the body limit, CORS off by default."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest
import requests

from backend import create_app
from backend import settings as app_settings
from backend.services.session import new_session_id
from tests.reliability.rawhttp import send

pytestmark = pytest.mark.slow
API = "/api/v1"
TOKEN = "reliability-operator-token-0123456789"
ORIGIN = "https://app.example"
SECRET = "other-session-secret-4b1d"
LEAKS = (
    "Traceback",
    'File "',
    ".py",
    "/work",
    "/tmp",
    "/root",
    "sqlite",
    "psycopg",
    "sqlalchemy",
    "SELECT",
    "INSERT",
    "chat_history",
    SECRET,
)


def leaks(text: str) -> list[str]:
    """The forbidden fragments found in an answer."""
    return [fragment for fragment in LEAKS if fragment.lower() in text.lower()]


def test_operator_listing_needs_the_token_and_is_absent_without_one(database_url, launch, figures):
    """With ADMIN_TOKEN: 401 without or with a wrong token, 200 with it. Without ADMIN_TOKEN: 404 whatever is sent."""
    guarded = launch(database_url, name="token", ADMIN_TOKEN=TOKEN)
    open_ = launch(database_url, name="no-token", migrate_first=False)
    requests.post(f"{guarded.base_url}{API}/sessions", json={"session_id": "listed"}, timeout=10).raise_for_status()
    listing = f"{API}/sessions"
    attempts = {
        "no header": {},
        "wrong token": {"Authorization": "Bearer wrong-token-0123456789"},
        "token as Basic": {"Authorization": f"Basic {TOKEN}"},
        "token prefix": {"Authorization": f"Bearer {TOKEN[:-1]}"},
        "token plus a byte": {"Authorization": f"Bearer {TOKEN}x"},
        "non-ASCII token": {"Authorization": "Bearer t\u00f6ken-\u00e9\u00e9\u00e9"},
        "empty bearer": {"Authorization": "Bearer "},
    }
    answers = {
        name: send(
            guarded.port, "GET", listing, headers={k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
        )
        for name, headers in attempts.items()
    }
    good = requests.get(guarded.base_url + listing, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    hidden = {
        name: send(open_.port, "GET", listing, headers=headers)
        for name, headers in {"no header": {}, "any token": {"Authorization": f"Bearer {TOKEN}"}}.items()
    }
    figures.update(
        refused={k: v.status for k, v in answers.items()},
        with_token=good.status_code,
        without_admin_token_configured={k: v.status for k, v in hidden.items()},
    )
    assert {k: v.status for k, v in answers.items()} == {k: 401 for k in attempts}
    assert all(not leaks(v.text) and "listed" not in v.text for v in answers.values())
    assert answers["no header"].headers.get("WWW-Authenticate") == "Bearer"
    assert good.status_code == 200 and [s["session_id"] for s in good.json()["sessions"]] == ["listed"]
    assert {v.status for v in hidden.values()} == {404}
    assert all("listed" not in v.text for v in hidden.values())


def test_generated_session_ids_are_unguessable(database_url, launch, figures):
    """300 ids from the server and 20,000 from the generator: >= 128 bits, URL-safe, no repeats, no pattern."""
    server = launch(database_url)
    served = [
        requests.post(f"{server.base_url}{API}/sessions", json={}, timeout=10).json()["session_id"] for _ in range(300)
    ]
    generated = [new_session_id() for _ in range(20_000)]
    ids = served + generated
    alphabet = set("".join(ids))
    counts = Counter("".join(ids))
    total = sum(counts.values())
    bits_per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    bits = min(len(i) for i in ids) * bits_per_char
    figures.update(
        ids_checked=len(ids),
        repeats=len(ids) - len(set(ids)),
        min_length=min(map(len, ids)),
        alphabet=len(alphabet),
        bits_per_character=round(bits_per_char, 3),
        estimated_bits=round(bits),
    )
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22,}", i) for i in ids)
    assert bits >= 128
    assert len({i[:4] for i in served}) > 290, "ids share prefixes: not random"
    assert sorted(served) != served, "ids in creation order: sequential"


def test_no_error_body_reveals_a_trace_sql_a_path_or_another_session(database_url, launch, figures, monkeypatch):
    """Every kind of error from the live server, and a real 500 from the app, checked for leaks."""
    server = launch(database_url, MAX_CONTENT_LENGTH="4096")
    base = server.base_url
    requests.post(f"{base}{API}/sessions", json={"session_id": "other"}, timeout=10).raise_for_status()
    requests.post(
        f"{base}{API}/sessions/other/messages", json={"role": "user", "content": SECRET}, timeout=10
    ).raise_for_status()
    requests.post(f"{base}{API}/sessions", json={"session_id": "mine"}, timeout=10).raise_for_status()
    errors = [
        send(server.port, "GET", f"{API}/sessions/nope"),
        send(server.port, "GET", f"{API}/sessions/other%27%20OR%201=1--"),
        send(server.port, "POST", f"{API}/sessions/mine/messages", b'{"role":'),
        send(server.port, "POST", f"{API}/sessions/mine/messages", b'{"role":"x","content":5,"session_id":"other"}'),
        send(server.port, "POST", f"{API}/sessions/mine/messages", b'{"role":"user","content":"' + b"x" * 5000 + b'"}'),
        send(server.port, "GET", f"{API}/sessions/mine/messages?before=other"),
        send(server.port, "PUT", f"{API}/sessions/mine", b"{}"),
        send(server.port, "GET", "/api/v1/../../etc/passwd"),
        send(server.port, "GET", f"{API}/sessions"),
        send(server.port, "POST", f"{API}/chat", b'{"session_id":"nope","message":"x"}'),
    ]
    statuses = [e.status for e in errors]
    # A genuine unexpected failure, carrying SQL, a path and another session's data in its exception text.
    app = create_app(
        app_settings.TestingConfig(
            DATABASE_URL=database_url, ADMIN_TOKEN=None, CORS_ORIGINS=(), CHAT_AGENT=None, CHAT_AGENT_URL=None
        )
    )
    from backend.services.session import SessionService

    def explode(self, session_id):
        raise RuntimeError(f"SELECT * FROM chat_history WHERE content = '{SECRET}' at /work/main/backend/x.py")

    monkeypatch.setattr(SessionService, "get_session", explode)
    crashed = app.test_client().get(f"{API}/sessions/mine")
    figures.update(
        error_answers_checked=len(errors) + 1,
        statuses=statuses + [crashed.status_code],
        leaking=sum(bool(leaks(e.text)) for e in errors) + bool(leaks(crashed.get_data(as_text=True))),
    )
    assert statuses == [404, 404, 400, 422, 413, 422, 405, 404, 404, 404]
    for error in errors:
        assert error.headers["Content-Type"].startswith("application/json"), error.text
        assert not leaks(error.text), (error.status, leaks(error.text), error.text)
    assert crashed.status_code == 500
    assert crashed.get_json() == {"code": 500, "status": "Internal Server Error", "message": "internal server error"}


def test_the_body_size_limit_holds_at_its_exact_boundary(database_url, launch, figures):
    """MAX_CONTENT_LENGTH=4096: 4096 bytes are read, 4097 are 413, with and without Content-Length; nothing stored."""
    server = launch(database_url, MAX_CONTENT_LENGTH="4096")
    requests.post(f"{server.base_url}{API}/sessions", json={"session_id": "s"}, timeout=10).raise_for_status()
    frame = b'{"role":"user","content":"%s"}'
    at_limit = frame % (b"a" * (4096 - len(frame % b"")))
    over = frame % (b"a" * (4097 - len(frame % b"")))
    assert len(at_limit) == 4096 and len(over) == 4097
    path = f"{API}/sessions/s/messages"
    answers = {
        "4096 bytes": send(server.port, "POST", path, at_limit).status,
        "4096 bytes chunked": send(server.port, "POST", path, at_limit, chunked=True).status,
        "4097 bytes": send(server.port, "POST", path, over).status,
        "4097 bytes chunked": send(server.port, "POST", path, over, chunked=True).status,
        "1 MiB chunked": send(server.port, "POST", path, over + b" " * 2**20, chunked=True).status,
    }
    count = requests.get(f"{server.base_url}{API}/sessions/s", timeout=10).json()["message_count"]
    figures.update(limit=4096, answers=answers, messages_stored=count)
    assert answers == {
        "4096 bytes": 201,
        "4096 bytes chunked": 201,
        "4097 bytes": 413,
        "4097 bytes chunked": 413,
        "1 MiB chunked": 413,
    }
    assert count == 2


@pytest.mark.parametrize("configured", [False, True])
def test_cors_is_off_unless_cors_origins_lists_origins(database_url, launch, configured, figures):
    """Without CORS_ORIGINS no CORS header for anyone; with it, only the listed origin gets them."""
    settings = {"CORS_ORIGINS": ORIGIN} if configured else {}
    server = launch(database_url, **settings)
    url = f"{server.base_url}{API}/sessions"
    results = {}
    for origin in (ORIGIN, "https://evil.example", "null"):
        preflight = requests.options(
            url,
            timeout=10,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        actual = requests.post(url, json={}, headers={"Origin": origin}, timeout=10)
        results[origin] = (
            preflight.headers.get("Access-Control-Allow-Origin"),
            actual.headers.get("Access-Control-Allow-Origin"),
        )
    figures.update(cors_origins=settings.get("CORS_ORIGINS", "(unset)"), allow_origin_answers=results)
    expected_for_listed = (ORIGIN, ORIGIN) if configured else (None, None)
    assert results == {ORIGIN: expected_for_listed, "https://evil.example": (None, None), "null": (None, None)}
