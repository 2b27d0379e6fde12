"""Access control of /api/v1: who is calling (AUTH_MODE none|jwt), answered once per request, then rate limits.

In jwt mode every /api/v1 request needs `Authorization: Bearer <JWT>` (401 otherwise); in none mode
the session id is the key and the only credential is ADMIN_TOKEN, for operators.
"""

from __future__ import annotations

import functools
import hmac
import logging

import flask
from flask_smorest import abort

from backend.observability.metrics import record_auth_rejected
from backend.services.tokens import Caller, InvalidToken, KeysUnavailable, TokenVerifier
from backend.settings import Config
from backend.web.ratelimit import RateLimits

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
OPENAPI_PATH, DOCS_PREFIX = "/api/v1/openapi.json", "/api/v1/docs/"
EXTENSION_KEY = "session_store_auth"
UNAUTHORIZED = "a valid bearer token is required"
OPERATOR_REQUIRED = "an operator token is required"
NOBODY = Caller(owner=None, operator=False)


class Authenticator:
    """The app's access settings: its mode, its token verifier (jwt) or operator token (none), its rate limits."""

    def __init__(self, config: Config):
        self.mode = config.AUTH_MODE
        self.admin_token = config.ADMIN_TOKEN
        self.verifier = None
        if self.mode == "jwt":
            # Built now, so that a missing or unusable key stops the app at start.
            self.verifier = TokenVerifier(
                secret=config.JWT_SECRET,
                public_key=config.JWT_PUBLIC_KEY,
                jwks_url=config.JWT_JWKS_URL,
                audience=config.JWT_AUDIENCE,
                issuer=config.JWT_ISSUER,
                admin_scope=config.JWT_ADMIN_SCOPE,
                jwks_cooldown_s=config.JWT_JWKS_COOLDOWN_S,
                limits=config.LIMITS,
            )
        self.rate_limits = RateLimits(config)

    def caller(self, request: flask.Request) -> Caller:
        """Who sent `request`; InvalidToken in jwt mode when its bearer token is missing or bad."""
        token = bearer_token(request)
        if self.mode == "jwt":
            if token is None:
                raise InvalidToken("no bearer token", "missing")
            return self.verifier.verify(token)
        if token is None:
            return NOBODY  # most requests in none mode: the caller is nobody in particular, made once
        return Caller(owner=None, operator=self.is_admin_token(token))

    def is_admin_token(self, token: str) -> bool:
        """Whether `token` is the configured ADMIN_TOKEN (compared in constant time)."""
        # compare_digest on bytes: on str it refuses non-ASCII, which a hostile header may carry.
        return bool(self.admin_token) and hmac.compare_digest(token.encode(), self.admin_token.encode())


def bearer_token(request: flask.Request) -> str | None:
    """The credentials of an `Authorization: Bearer ...` header (possibly empty); None without one."""
    # request.headers.get("Authorization", ""), read where werkzeug keeps it: through the headers, a request
    # without one raised and caught a KeyError.
    scheme, _, given = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def authenticator() -> Authenticator:
    """The current app's Authenticator."""
    return flask.current_app._get_current_object().extensions[EXTENSION_KEY]


def unauthorized(reason: str, message: str = UNAUTHORIZED) -> None:
    """401 with `WWW-Authenticate: Bearer`, the same for every reason: the reason (one of the metric's
    REJECTION_REASONS) is only counted."""
    record_auth_rejected(reason)
    abort(401, message=message, headers={"WWW-Authenticate": "Bearer"})


def authenticate() -> None:
    """before_request: for /api/v1, find the caller (401 in jwt mode without a valid token), then rate-limit it."""
    request = flask.request._get_current_object()  # one context lookup, not one per attribute
    path = request.path
    if not (path + "/").startswith(API_PREFIX) or request.method == "OPTIONS":
        return  # probes; CORS preflights carry no credentials
    if path == OPENAPI_PATH or (path + "/").startswith(DOCS_PREFIX):
        return  # the API's description, for a browser that cannot send a token: routes and shapes, no data
    auth = flask.current_app._get_current_object().extensions[EXTENSION_KEY]
    try:
        caller = auth.caller(request)
    except InvalidToken as exc:
        log.info("refused a bearer token: %s", exc.reason)
        unauthorized(exc.kind)
    except KeysUnavailable:
        abort(503, message="the identity provider's keys cannot be fetched; retry later", headers={"Retry-After": "5"})
    request.session_store_caller = caller
    if auth.rate_limits.items:
        key = f"owner:{caller.owner}" if auth.mode == "jwt" else f"address:{request.remote_addr}"
        auth.rate_limits.check(request, key)


def _found_caller() -> Caller | None:
    """The caller authenticate found for the current request; None when it did not look (not /api/v1)."""
    return getattr(flask.request._get_current_object(), "session_store_caller", None)


def current_caller() -> Caller:
    """The caller of the current /api/v1 request (as authenticate found it)."""
    return _found_caller() or NOBODY


def owner_scope() -> str | None:
    """The `owner` keyword the services take for this request: None for operators and in none mode."""
    return current_caller().scope


def is_operator() -> bool:
    """Whether the current request carries the operator credential: ADMIN_TOKEN (none mode) or a token
    with JWT_ADMIN_SCOPE (jwt mode). Works on any route, /api/v1 or not; never raises for a bad token."""
    caller = _found_caller()
    if caller is None:
        try:
            caller = authenticator().caller(flask.request)
        except (InvalidToken, KeysUnavailable):
            return False
    return caller.operator


def check_admin_token() -> None:
    """none mode's operator check: 404 when no ADMIN_TOKEN is configured (the operator routes do not exist
    then), 401 unless the request carries it as a bearer token."""
    auth = authenticator()
    if not auth.admin_token:
        abort(404, message="not found")
    token = bearer_token(flask.request)
    if token is None or not auth.is_admin_token(token):
        unauthorized("missing" if not token else "wrong_admin_token", "a valid operator token is required")


def require_operator() -> None:
    """404 when this configuration has no operator credential (none mode without ADMIN_TOKEN), 401 unless
    the request carries one (ADMIN_TOKEN in none mode, a token with JWT_ADMIN_SCOPE in jwt mode)."""
    if authenticator().mode == "none":
        check_admin_token()
        return
    caller = _found_caller()
    if caller is None:
        try:
            caller = authenticator().caller(flask.request)
        except InvalidToken as exc:
            unauthorized(exc.kind, OPERATOR_REQUIRED)
        except KeysUnavailable:  # no key to check it with: not an operator we can recognise
            unauthorized("other", OPERATOR_REQUIRED)
    if not caller.operator:
        unauthorized("not_operator", OPERATOR_REQUIRED)


def listing_access(view):
    """The listing: in none mode operators only (404 without ADMIN_TOKEN, 401 without it), checked before
    the query is parsed; in jwt mode every authenticated caller (who sees only their own sessions)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if authenticator().mode == "none":
            check_admin_token()
        return view(*args, **kwargs)

    # backend.web.docs leaves it out of the OpenAPI document when it does not exist (none mode, no ADMIN_TOKEN).
    wrapper.session_store_operator_only = True  # type: ignore[attr-defined]
    return wrapper


def init_auth(app: flask.Flask, config: Config) -> None:
    """Bind the Authenticator to `app` and check every request before its view runs."""
    app.extensions[EXTENSION_KEY] = Authenticator(config)
    app.before_request(authenticate)
