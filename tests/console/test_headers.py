"""Every console answer carries its Content-Security-Policy (no inline script or style, nothing from elsewhere) and
is never cached, and its pages load files of this console alone."""

from __future__ import annotations

import re

from tests.console.reading import elements

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def answers(operator, console_app, service):
    """(name, response) of every kind of console answer: pages, 401s, errors, API calls, static files."""
    sid = service.get_or_create_session("h-1").session_id
    service.save_message(sid, "user", "hello")
    stranger = console_app.test_client()
    return [
        ("sign-in page", stranger.get("/console/sign-in")),
        ("401 page", stranger.get("/console/")),
        ("401 API call", stranger.get(f"/console/api/sessions/{sid}/running-turn")),
        ("sessions", operator.get("/console/")),
        ("conversation", operator.get(f"/console/sessions/{sid}")),
        ("search form", operator.get("/console/search")),
        ("owner", operator.get("/console/owner?owner=alice")),
        ("erase confirmation", operator.get("/console/owner/erase?owner=alice")),
        ("404 page", operator.get("/console/nothing/here")),
        ("400 page", operator.get("/console/owner")),
        ("403 refusal", operator.post("/console/sign-out", data={})),
        ("API call", operator.get(f"/console/api/sessions/{sid}/running-turn")),
        ("script", operator.get("/console/static/console.js")),
        ("styles", operator.get("/console/static/console.css")),
    ]


def test_every_console_answer_carries_the_policy_and_only_static_files_are_cached(operator, console_app, service):
    for name, response in answers(operator, console_app, service):
        headers = response.headers
        assert headers["Content-Security-Policy"] == POLICY, name
        assert (headers["X-Content-Type-Options"], headers["X-Frame-Options"]) == ("nosniff", "DENY"), name
        assert headers["Referrer-Policy"] == "same-origin", name
        if name in ("script", "styles"):
            assert "no-store" not in headers.get("Cache-Control", "") and response.status_code == 200, name
        else:
            assert headers["Cache-Control"] == "no-store", name
        response.close()


def test_pages_have_no_inline_script_or_style_and_load_only_this_consoles_files(operator, console_app, service):
    for name, response in answers(operator, console_app, service):
        if response.mimetype != "text/html":
            response.close()
            continue
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), name
        assert not re.search(r"\sstyle=|\son[a-z]+=|<style", html, re.IGNORECASE), name
        for element in elements(html):
            for attribute in ("src", "href", "action"):
                url = element["attrs"].get(attribute)
                assert url is None or url.startswith(("/console/", "#")), (name, url)
    for asset, mimetype in (("console.js", "text/javascript"), ("console.css", "text/css")):
        response = operator.get(f"/console/static/{asset}")
        assert response.status_code == 200 and response.mimetype == mimetype and len(response.data) > 500
        response.close()
