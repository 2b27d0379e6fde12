"""Fixtures of the console tests: an app with an operator credential over the test's database, a signed-in browser
(the Flask test client keeps cookies as a browser does), and a way to read what a page shows."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import ADMIN_TOKEN, make_app  # noqa: F401 - make_app is a fixture shared with the API tests

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def form_token(html: str) -> str:
    """The form token a page's forms carry."""
    found = FORM_TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(client, token: str = ADMIN_TOKEN, next_path: str = "/console/", **headers):
    """Open the sign-in page and post its form with `token`, as a browser does; the answer."""
    page = client.get("/console/sign-in")
    data = {"token": token, "csrf_token": form_token(page.get_data(as_text=True)), "next": next_path}
    return client.post("/console/sign-in", data=data, headers=headers)


@pytest.fixture
def console_app(make_app):  # noqa: F811 - the API tests' fixture
    """An app in none mode with ADMIN_TOKEN: its console can sign an operator in."""
    return make_app(ADMIN_TOKEN=ADMIN_TOKEN)


@pytest.fixture
def operator(console_app):
    """A test client signed in to the console."""
    client = console_app.test_client()
    assert sign_in(client).status_code == 303
    return client


@pytest.fixture
def page_token(operator):
    """The form token of the signed-in operator's pages."""
    return form_token(operator.get("/console/").get_data(as_text=True))


def session_cookie(client) -> str | None:
    """The console's sign-in cookie as the client holds it, None when it holds none."""
    cookie = client.get_cookie("session_store_console", path="/console")
    return None if cookie is None else cookie.value


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch of Chromium, on Debian's build, without the sandbox (the tests run as root)."""
    from tests.console.browser import chromium_or_missing

    return {**browser_type_launch_args, "executable_path": chromium_or_missing(), "args": ["--no-sandbox"]}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Where the browser tests left their screenshots."""
    from tests.console.browser import ARTIFACTS

    shots = sorted(ARTIFACTS.glob("*.png")) if ARTIFACTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}): {ARTIFACTS}")
