"""What every console request goes through: the sign-in check (nothing answers without one), the form token and
origin check on every request that changes data, the security headers, and errors as pages or JSON."""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlsplit

import flask
from werkzeug.exceptions import HTTPException

from backend.services.agents import AgentFailed
from backend.services.errors import SessionStoreError
from backend.ui import EXTENSION_KEY
from backend.ui.blueprint import bp, is_api_request
from backend.ui.cookies import SESSION_COOKIE, ConsoleKeys, SignedIn
from backend.web.errors import describe, error_response, handle_http_exception, handle_unexpected

log = logging.getLogger(__name__)

PUBLIC_ENDPOINTS = {"console.sign_in", "console.static"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
FORM_TOKEN_FIELD = "csrf_token"
# No inline script or style anywhere: a message that slipped through escaping could still run nothing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The console's addresses hold session ids and owners: no other site learns them from a link. (no-referrer
    # would also make the browser send `Origin: null` on the console's own forms, which the origin check refuses.)
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def console_keys() -> ConsoleKeys:
    """The current app's console keys."""
    return flask.current_app.extensions[EXTENSION_KEY]


def signed_in() -> SignedIn:
    """The operator signed in for the current console request (the guard has checked there is one)."""
    return flask.g.console_signed_in


@bp.before_request
def guard():
    """Every console request but the sign-in page and static files needs a sign-in; every one that changes data
    needs the sign-in's form token and this console as its origin."""
    if flask.request.endpoint in PUBLIC_ENDPOINTS:
        return None
    current = console_keys().signed_in(flask.request.cookies.get(SESSION_COOKIE))
    if current is None:
        return refuse_unsigned()
    flask.g.console_signed_in = current
    if flask.request.method not in SAFE_METHODS:
        given = flask.request.form.get(FORM_TOKEN_FIELD, "")
        if not (same_origin() and hmac.compare_digest(given.encode(), current.form_token.encode())):
            log.warning("console refused a %s without its form token or from another origin", flask.request.method)
            return page(403, "error.html", message="refused: this form did not come from this console; reload it")
    return None


def refuse_unsigned():
    """401: JSON for the console's API calls, the sign-in page for a browser."""
    if is_api_request():
        return error_response(401, "sign in to the console first")
    from backend.ui.signin import HOME, sign_in_page  # here: signin imports this module

    # Back to the page asked for once signed in; a refused post starts again from the console's home.
    next_path = flask.request.full_path.rstrip("?") if flask.request.method == "GET" else HOME
    return sign_in_page(status=401, next_path=next_path)


def same_origin() -> bool:
    """Whether a request that changes data came from a page of this server: its Origin (or Referer) names this
    host, and the browser's Sec-Fetch-Site, when sent, says same-origin."""
    fetch_site = flask.request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin = flask.request.headers.get("Origin") or flask.request.headers.get("Referer")
    if origin is None:
        return True  # a client that sends neither is no browser: SameSite and the form token still hold
    return urlsplit(origin).netloc == flask.request.host


def page(status: int, template: str, **context) -> tuple[str, int]:
    """A console page with its status."""
    return flask.render_template(f"console/{template}", **context), status


@bp.after_request
def security_headers(response: flask.Response) -> flask.Response:
    """The policy and headers of every console answer; nothing but static files is cached."""
    response.headers.update(SECURITY_HEADERS)
    if flask.request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    """An HTTP error: JSON for an API call, else a page."""
    if is_api_request():
        return handle_http_exception(error)
    return page(error.code or 500, "error.html", message=error.description or error.name)


@bp.errorhandler(SessionStoreError)
@bp.errorhandler(AgentFailed)
def domain_error(error: Exception):
    """A domain error with the API's status and words: JSON for an API call, else a page."""
    status, message, errors, headers = describe(error)
    if is_api_request():
        return error_response(status, message, errors, headers)
    return page(status, "error.html", message=message, errors=errors)


@bp.errorhandler(Exception)
def unexpected_error(error: Exception):
    """Anything else: logged with its trace, a bare 500 (JSON for an API call, else a page)."""
    if is_api_request():
        return handle_unexpected(error)
    log.exception("unexpected error on %s %s", flask.request.method, flask.request.url_rule)
    return page(500, "error.html", message="internal server error")


@bp.context_processor
def form_token() -> dict:
    """`form_token`, for every form of a page that changes data; empty on the sign-in page (it has its own)."""
    current = flask.g.get("console_signed_in")
    return {"form_token": current.form_token if current else "", "signed_in_as": current}
