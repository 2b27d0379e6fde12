"""Nothing of the console answers without a sign-in; signing in takes the operator credential in a form, keeps it
out of URLs and logs, and leaves a strict cookie; every request that changes data carries the sign-in's form token."""

from __future__ import annotations

import logging
import time

import pytest

from backend import settings
from backend.ui.cookies import OPERATOR, ConsoleKeys
from tests.api.conftest import ADMIN_TOKEN
from tests.auth.tokens import ADMIN_SCOPE, AUDIENCE, ISSUER, claims, public_pem, rsa_key, sign
from tests.console.conftest import form_token, session_cookie, sign_in
from tests.rows import dump_rows

KEY = rsa_key()
MARKER = "marker-7c1d-only-in-the-data"
PAGES = [
    "/console/",
    "/console/?owner=alice",
    "/console/sessions/{sid}",
    "/console/search?q=marker",
    "/console/owner?owner=alice",
    "/console/owner/export?owner=alice",
    "/console/owner/erase?owner=alice",
    "/console/no-such-page",
]
API_CALLS = ["/console/api/sessions/{sid}/running-turn", "/console/api/sessions/{sid}/turns/t1/events"]
ACTIONS = ["/console/owner/erase", "/console/owner/export", "/console/sign-out"]


@pytest.fixture
def alices(service):
    """The id of Alice's session, with the marker in its content, metadata and device."""
    session = service.get_or_create_session(None, {"note": MARKER}, f"device-{MARKER}", owner="alice")
    service.save_message(session.session_id, "user", f"hello {MARKER}")
    return session.session_id


def test_without_a_sign_in_every_page_is_the_sign_in_page_every_api_call_a_401_and_no_data_shows(
    console_app, alices, service
):
    client, rows = console_app.test_client(), dump_rows(service.engine)
    for path in PAGES:
        response = client.get(path.format(sid=alices))
        html = response.get_data(as_text=True)
        assert response.status_code == 401, path
        assert response.mimetype == "text/html" and 'name="token" type="password"' in html, path
        assert f'name="next" value="{path.format(sid=alices).replace("&", "&amp;")}"' in html, path
        assert MARKER not in html and "alice" not in html.replace("owner=alice", ""), path
    for path in API_CALLS:
        response = client.get(path.format(sid=alices))
        assert response.status_code == 401, path
        assert response.get_json() == {"code": 401, "status": "Unauthorized", "message": "sign in to the console first"}
    for path in ACTIONS:
        response = client.post(path, data={"owner": "alice", "confirm": "alice", "csrf_token": "guess"})
        assert response.status_code == 401, path
        assert 'name="next" value="/console/"' in response.get_data(as_text=True)  # not back to a refused post
    assert dump_rows(service.engine) == rows


def test_signing_in_with_the_admin_token_leaves_a_strict_http_only_cookie_for_the_console_alone(console_app):
    client = console_app.test_client()
    response = sign_in(client, next_path="/console/sessions/s1?before=5")
    assert response.status_code == 303 and response.headers["Location"] == "/console/sessions/s1?before=5"
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session_store_console=")]
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert flags["path"] == "Path=/console" and flags["samesite"] == "SameSite=Strict" and "httponly" in flags
    assert "secure" not in flags  # plain http on loopback: a Secure cookie would never come back
    assert 0 < int(flags["max-age"].split("=")[1]) <= 8 * 3600
    assert client.get("/console/").status_code == 200
    over_https = console_app.test_client()
    page = over_https.get("/console/sign-in", base_url="https://console.example")
    data = {"token": ADMIN_TOKEN, "csrf_token": form_token(page.get_data(as_text=True)), "next": "/console/"}
    answer = over_https.post("/console/sign-in", data=data, base_url="https://console.example")
    assert answer.status_code == 303
    assert all("; Secure" in c for c in answer.headers.getlist("Set-Cookie"))


def test_a_wrong_token_is_refused_and_no_token_is_ever_in_a_url_a_cookie_or_a_log(console_app, caplog):
    caplog.set_level(logging.DEBUG)
    client = console_app.test_client()
    wrong = sign_in(client, token="not-the-operator-token")
    assert wrong.status_code == 401 and "That is not the operator token." in wrong.get_data(as_text=True)
    assert session_cookie(client) is None and client.get("/console/").status_code == 401
    right = sign_in(client)
    sign_in_form = client.get("/console/sign-in").get_data(as_text=True)
    assert '<form method="post"' in sign_in_form
    assert ADMIN_TOKEN not in right.headers["Location"] and ADMIN_TOKEN not in "".join(
        right.headers.getlist("Set-Cookie")
    )
    assert ADMIN_TOKEN not in caplog.text and "not-the-operator-token" not in caplog.text
    assert "console sign-in refused: not the admin token" in caplog.text
    assert "console sign-in by console:admin-token" in caplog.text


@pytest.mark.parametrize(
    "forged",
    [
        {"csrf_token": ""},
        {"csrf_token": "made-up"},
        {"headers": {"Origin": "https://evil.example"}},
        {"headers": {"Sec-Fetch-Site": "cross-site"}},
    ],
    ids=["no form token", "a made-up one", "another origin", "a cross-site fetch"],
)
def test_a_sign_in_form_not_from_this_console_signs_nobody_in(console_app, forged):
    client = console_app.test_client()
    real = form_token(client.get("/console/sign-in").get_data(as_text=True))
    data = {"token": ADMIN_TOKEN, "csrf_token": forged.get("csrf_token", real), "next": "/console/"}
    response = client.post("/console/sign-in", data=data, headers=forged.get("headers", {}))
    assert response.status_code == 403 and session_cookie(client) is None
    assert client.get("/console/").status_code == 401


@pytest.mark.parametrize(
    "forged",
    [
        {"csrf_token": None},
        {"csrf_token": "made-up"},
        {"headers": {"Origin": "https://evil.example"}},
        {"headers": {"Referer": "https://evil.example/page"}},
        {"headers": {"Sec-Fetch-Site": "same-site"}},
    ],
    ids=["no form token", "a made-up one", "another origin", "a referer elsewhere", "a sibling site's fetch"],
)
def test_an_action_without_the_sign_ins_form_token_or_from_elsewhere_is_refused_and_changes_nothing(
    operator, page_token, alices, service, forged
):
    rows, data = dump_rows(service.engine), {"owner": "alice", "confirm": "alice"}
    if forged.get("csrf_token", page_token) is not None:
        data["csrf_token"] = forged.get("csrf_token", page_token)
    for path in ("/console/owner/erase", "/console/sign-out"):
        response = operator.post(path, data=data, headers=forged.get("headers", {}))
        assert response.status_code == 403, path
        assert "this form did not come from this console" in response.get_data(as_text=True)
    assert dump_rows(service.engine) == rows
    assert operator.get("/console/").status_code == 200  # still signed in: the sign-out was refused too


def test_signing_out_ends_the_sign_in(operator, page_token):
    response = operator.post(
        "/console/sign-out", data={"csrf_token": page_token}, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/console/sign-in"
    assert session_cookie(operator) is None and operator.get("/console/").status_code == 401


def test_a_new_admin_token_or_another_key_ends_every_sign_in_and_a_tampered_cookie_is_none(make_app, operator):
    cookie = session_cookie(operator)
    assert cookie is not None

    def accepted(app, value) -> bool:
        client = app.test_client()
        client.set_cookie("session_store_console", value, path="/console")
        return client.get("/console/").status_code == 200

    assert accepted(make_app(ADMIN_TOKEN=ADMIN_TOKEN), cookie)  # another worker of the same deployment
    assert not accepted(make_app(ADMIN_TOKEN=ADMIN_TOKEN + "-rotated"), cookie)
    payload, _, signature = cookie.rpartition(".")
    assert not accepted(make_app(ADMIN_TOKEN=ADMIN_TOKEN), f"{payload}.{signature[::-1]}")
    secret = "a-console-secret-of-32-characters-or-more"
    signed_with_secret = make_app(ADMIN_TOKEN=ADMIN_TOKEN, CONSOLE_SECRET_KEY=secret)
    client = signed_with_secret.test_client()
    assert sign_in(client).status_code == 303
    kept = session_cookie(client)
    assert accepted(make_app(ADMIN_TOKEN=ADMIN_TOKEN, CONSOLE_SECRET_KEY=secret), kept)
    assert not accepted(make_app(ADMIN_TOKEN=ADMIN_TOKEN + "-rotated", CONSOLE_SECRET_KEY=secret), kept)
    assert not accepted(make_app(ADMIN_TOKEN=ADMIN_TOKEN, CONSOLE_SECRET_KEY=secret + "-other"), kept)


def test_a_configuration_with_no_key_to_sign_with_says_so_and_a_short_secret_stops_the_app(make_app):
    client = make_app().test_client()  # none mode without ADMIN_TOKEN
    response = client.get("/console/")
    assert response.status_code == 503 and "CONSOLE_SECRET_KEY" in response.get_data(as_text=True)
    refused = client.post("/console/sign-in", data={"token": "anything", "csrf_token": "", "next": "/console/"})
    assert refused.status_code == 503 and session_cookie(client) is None
    with pytest.raises(RuntimeError, match="CONSOLE_SECRET_KEY must be at least 32 characters"):
        make_app(ADMIN_TOKEN=ADMIN_TOKEN, CONSOLE_SECRET_KEY="short")


def jwt_console(make_app, **settings):
    return make_app(
        AUTH_MODE="jwt", JWT_PUBLIC_KEY=public_pem(KEY), JWT_AUDIENCE=AUDIENCE, JWT_ISSUER=ISSUER, **settings
    )


def test_in_jwt_mode_an_operator_token_signs_in_until_it_expires_and_a_users_or_expired_one_does_not(make_app):
    app = jwt_console(make_app, CONSOLE_SECRET_KEY="a-console-secret-of-32-characters-or-more")
    operator = sign(KEY, claims("ops", scope=f"openid {ADMIN_SCOPE}", exp=int(time.time()) + 600))
    client = app.test_client()
    response = sign_in(client, token=operator)
    assert response.status_code == 303
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session_store_console=")]
    assert 590 <= int(cookie.split("Max-Age=")[1].split(";")[0]) <= 600  # no longer than the token
    assert "console:operator:ops" in client.get("/console/").get_data(as_text=True)
    user = app.test_client()
    refused = sign_in(user, token=sign(KEY, claims("alice")))
    assert refused.status_code == 403 and "not an operator" in refused.get_data(as_text=True)
    expired = sign_in(user, token=sign(KEY, claims("ops", scope=ADMIN_SCOPE, exp=int(time.time()) - 120)))
    assert expired.status_code == 401 and session_cookie(user) is None
    assert sign_in(user, token=ADMIN_TOKEN).status_code == 401  # jwt mode: the operator credential is a token


def test_a_jwt_sign_in_ends_with_the_token_and_outside_jwt_mode_it_is_none():
    keys = ConsoleKeys(settings.TestingConfig(AUTH_MODE="jwt", JWT_SECRET="s" * 32, ADMIN_TOKEN=None))
    value, signed = keys.session_value(OPERATOR, "ops", time.time() + 60)
    assert keys.signed_in(value) == signed and signed.actor == "console:operator:ops"
    lapsed, _ = keys.session_value(OPERATOR, "ops", time.time() - 1)
    assert keys.signed_in(lapsed) is None
    none_mode = ConsoleKeys(settings.TestingConfig(AUTH_MODE="none", ADMIN_TOKEN="s" * 32, CONSOLE_SECRET_KEY="k" * 32))
    jwt_mode = ConsoleKeys(settings.TestingConfig(AUTH_MODE="jwt", JWT_SECRET="s" * 32, CONSOLE_SECRET_KEY="k" * 32))
    assert none_mode.signed_in(jwt_mode.session_value(OPERATOR, "ops", time.time() + 60)[0]) is None


def test_in_jwt_mode_with_public_keys_the_console_needs_its_own_secret(make_app):
    client = jwt_console(make_app).test_client()
    assert client.get("/console/").status_code == 503
    operator = sign(KEY, claims("ops", scope=ADMIN_SCOPE))
    assert client.post("/console/sign-in", data={"token": operator, "next": "/console/"}).status_code == 503
