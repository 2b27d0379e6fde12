"""Operator access of none mode: a bearer ADMIN_TOKEN, compared in constant time; the listing hides when none is set."""

from __future__ import annotations

import hmac

import flask
from flask_smorest import abort


def check_admin_token() -> None:
    """404 when no ADMIN_TOKEN is configured, 401 unless the request carries it as a bearer token."""
    expected = flask.current_app.config.get("ADMIN_TOKEN")
    if not expected:
        abort(404, message="not found")
    scheme, _, given = flask.request.headers.get("Authorization", "").partition(" ")
    # compare_digest on bytes: on str it refuses non-ASCII, which a hostile header may carry.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        abort(401, message="a valid operator token is required", headers={"WWW-Authenticate": "Bearer"})
