"""The console's sign-in, kept in a signed cookie: who signed in and how, until when, and the form token of that
sign-in. The token itself is never stored: the cookie records that it was checked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import flask
from itsdangerous import BadSignature, URLSafeTimedSerializer

from backend.settings import Config

SESSION_COOKIE = "session_store_console"
SIGN_IN_COOKIE = "session_store_console_sign_in"  # the sign-in form's own token, before anyone is signed in
COOKIE_PATH = "/console"
#: How long a sign-in lasts at most; a JWT's sign-in ends with the token's own `exp` if sooner.
SESSION_S = 8 * 3600
SIGN_IN_FORM_S = 3600
MIN_SECRET_CHARS = 32
ADMIN, OPERATOR = "admin-token", "operator-token"  # how one signed in: ADMIN_TOKEN (none mode), a JWT (jwt mode)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """An operator signed in to the console: how, who (a JWT's `sub`), the form token, and until when."""

    kind: str
    subject: str | None
    form_token: str
    expires_at: float

    @property
    def actor(self) -> str:
        """Who acts, for audit lines: never a credential."""
        return "console:admin-token" if self.kind == ADMIN else f"console:operator:{self.subject}"


class ConsoleKeys:
    """Signs and checks the console's cookies with CONSOLE_SECRET_KEY, or a key derived from ADMIN_TOKEN (none mode)
    or JWT_SECRET (jwt mode): the same on every worker and host without another setting. None of them: no sign-in."""

    def __init__(self, config: Config):
        secret = config.CONSOLE_SECRET_KEY
        if secret is not None and len(secret) < MIN_SECRET_CHARS:
            raise RuntimeError(f"CONSOLE_SECRET_KEY must be at least {MIN_SECRET_CHARS} characters")
        self.mode = config.AUTH_MODE
        source = secret or (config.ADMIN_TOKEN if self.mode == "none" else config.JWT_SECRET)
        # One-way: the key signs cookies, and nothing signed with it tells anything of the setting it came from.
        self.key = (
            hmac.new(source.encode(), b"session-store console cookies", hashlib.sha256).digest() if source else None
        )
        # A sign-in with ADMIN_TOKEN names the token it checked by this fingerprint: a new token ends old sign-ins.
        self.admin_fingerprint = self._fingerprint(config.ADMIN_TOKEN) if config.ADMIN_TOKEN else None

    @property
    def can_sign_in(self) -> bool:
        """Whether this configuration has a key to sign the console's cookie with."""
        return self.key is not None

    def _fingerprint(self, token: str) -> str:
        key = self.key or b""
        return hmac.new(key, b"admin token " + token.encode(), hashlib.sha256).hexdigest()[:32]

    def _serializer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key, salt=salt)

    def session_value(self, kind: str, subject: str | None, token_expires_at: float | None) -> tuple[str, SignedIn]:
        """The cookie value of a new sign-in, and the sign-in it holds."""
        expires_at = time.time() + SESSION_S
        if token_expires_at is not None:
            expires_at = min(expires_at, token_expires_at)
        signed_in = SignedIn(kind, subject, secrets.token_urlsafe(32), expires_at)
        fingerprint = self.admin_fingerprint if kind == ADMIN else None
        payload = {"k": kind, "s": subject, "t": signed_in.form_token, "e": expires_at, "f": fingerprint}
        return self._serializer("console-session").dumps(payload), signed_in

    def signed_in(self, value: str | None) -> SignedIn | None:
        """The sign-in a session cookie holds; None when absent, tampered with, expired, or made for another
        credential (another mode, a changed ADMIN_TOKEN)."""
        if not value or self.key is None:
            return None
        try:
            payload = self._serializer("console-session").loads(value, max_age=SESSION_S)
            kind, subject, token, expires_at, fingerprint = (payload[k] for k in ("k", "s", "t", "e", "f"))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        expected_kind = ADMIN if self.mode == "none" else OPERATOR
        if kind != expected_kind or not isinstance(expires_at, float | int) or expires_at <= time.time():
            return None
        if kind == ADMIN and (self.admin_fingerprint is None or fingerprint != self.admin_fingerprint):
            return None
        return SignedIn(kind, subject, token, float(expires_at))

    def sign_in_form_token(self) -> tuple[str, str]:
        """A fresh token for the sign-in form: (the form's value, the cookie's value) that match."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self._serializer("console-sign-in").dumps(nonce)

    def sign_in_form_matches(self, form_value: str | None, cookie_value: str | None) -> bool:
        """Whether the sign-in form's token is the one its cookie holds (a form posted from elsewhere is not)."""
        if not form_value or not cookie_value or self.key is None:
            return False
        try:
            nonce = self._serializer("console-sign-in").loads(cookie_value, max_age=SIGN_IN_FORM_S)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce.encode(), form_value.encode())


def set_cookie(response: flask.Response, name: str, value: str, max_age: int) -> None:
    """A console cookie: HttpOnly, SameSite=Strict, only for /console, Secure whenever the request came over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=flask.request.is_secure,
    )


def clear_cookie(response: flask.Response, name: str) -> None:
    """Remove a console cookie from the browser."""
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=flask.request.is_secure)
