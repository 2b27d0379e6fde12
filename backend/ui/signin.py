"""Signing in to the console with the operator credential (ADMIN_TOKEN in none mode, a JWT with JWT_ADMIN_SCOPE in
jwt mode), posted in a form: never in a URL, never logged, never stored (the cookie records that it was checked)."""

from __future__ import annotations

import logging
import time

import flask

from backend.services.tokens import InvalidToken, KeysUnavailable
from backend.ui.blueprint import bp
from backend.ui.cookies import (
    ADMIN,
    OPERATOR,
    SESSION_COOKIE,
    SESSION_S,
    SIGN_IN_COOKIE,
    SIGN_IN_FORM_S,
    clear_cookie,
    set_cookie,
)
from backend.ui.guard import console_keys, same_origin, signed_in
from backend.web.auth import authenticator

log = logging.getLogger(__name__)

HOME = "/console/"


def sign_in_page(status: int = 200, next_path: str = HOME, problem: str | None = None) -> flask.Response:
    """The sign-in form (with a fresh form token in it and in its cookie), answered with `status`."""
    keys = console_keys()
    form_token, cookie_value = keys.sign_in_form_token() if keys.can_sign_in else ("", "")
    body = flask.render_template(
        "console/sign_in.html",
        form_token=form_token,
        next_path=safe_next(next_path),
        problem=problem,
        can_sign_in=keys.can_sign_in,
        mode=authenticator().mode,
    )
    response = flask.make_response(body, status if keys.can_sign_in else 503)
    if keys.can_sign_in:
        set_cookie(response, SIGN_IN_COOKIE, cookie_value, SIGN_IN_FORM_S)
    return response


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a console path of this server, never another site."""
    if not path or not path.startswith("/console/") or path.startswith("//") or "\\" in path:
        return HOME
    return path


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """GET: the form; POST: check the credential, then go on to where the operator was headed."""
    if flask.request.method == "GET":
        return sign_in_page(next_path=flask.request.args.get("next"))
    form, keys = flask.request.form, console_keys()
    next_path = form.get("next")
    if not keys.can_sign_in:
        return sign_in_page()
    if not (
        same_origin() and keys.sign_in_form_matches(form.get("csrf_token"), flask.request.cookies.get(SIGN_IN_COOKIE))
    ):
        log.warning("console sign-in refused: the form did not come from this console")
        return sign_in_page(403, next_path, "This form expired or did not come from this console: sign in again.")
    auth = authenticator()
    auth.rate_limits.check(flask.request, f"address:{flask.request.remote_addr}")  # guessing costs attempts
    token = form.get("token", "").strip()
    if auth.mode == "none":
        if not (auth.admin_token and token and auth.is_admin_token(token)):
            log.warning("console sign-in refused: not the admin token")
            return sign_in_page(401, next_path, "That is not the operator token.")
        value, who = keys.session_value(ADMIN, None, None)
    else:
        try:
            caller = auth.verifier.verify(token)
        except InvalidToken as exc:
            log.warning("console sign-in refused: %s", exc.reason)
            return sign_in_page(401, next_path, "That token is not valid (expired, or not signed by a trusted key).")
        except KeysUnavailable:
            return sign_in_page(503, next_path, "The identity provider's keys cannot be fetched; retry later.")
        if not caller.operator:
            log.warning("console sign-in refused: a token without the operator scope")
            return sign_in_page(403, next_path, "That token is valid but not an operator's.")
        value, who = keys.session_value(OPERATOR, caller.owner, caller.expires_at)
    log.info("console sign-in by %s", who.actor)
    response = flask.redirect(safe_next(next_path), 303)
    set_cookie(response, SESSION_COOKIE, value, max(1, min(SESSION_S, int(who.expires_at - time.time()))))
    clear_cookie(response, SIGN_IN_COOKIE)
    return response


@bp.post("/sign-out")
def sign_out():
    """Forget the sign-in in this browser (the guard checked the form token)."""
    log.info("console sign-out by %s", signed_in().actor)
    response = flask.redirect(flask.url_for("console.sign_in"), 303)
    clear_cookie(response, SESSION_COOKIE)
    return response
