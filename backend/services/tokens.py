"""Who is calling, from a bearer JWT: verified with PyJWT against a secret, a public key or a JWKS (no Flask)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from backend.services.validation import Problems, check_owner
from backend.settings import Limits

log = logging.getLogger(__name__)

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {"secp256r1": ("ES256",), "secp384r1": ("ES384",), "secp521r1": ("ES512",)}
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as its hash
MAX_TOKEN_CHARS = 8192
LEEWAY_S = 30  # clock skew tolerated on exp / nbf / iat
JWKS_CACHE_S = 300


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from: its owner (a token's sub; None in none mode) and whether it is an operator."""

    owner: str | None
    operator: bool = False
    # When the token stops being valid (its `exp`, epoch seconds); None without a token. Not part of who calls.
    expires_at: float | None = field(default=None, compare=False)

    @property
    def scope(self) -> str | None:
        """The `owner` the services are scoped by: None (everything) for operators and in none mode."""
        return None if self.operator else self.owner


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by a key we trust; `reason` is for logs only,
    `kind` one of a fixed few (missing, malformed, expired, bad_signature, unknown_key, invalid_claims, other)
    for the refusals' metric. Neither ever holds the token."""

    def __init__(self, reason: str, kind: str = "other"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


# The kind of a refusal by PyJWT's error, the first that matches (InvalidSignatureError is a DecodeError).
_KINDS = (
    (jwt.ExpiredSignatureError, "expired"),
    ((jwt.InvalidSignatureError, jwt.InvalidAlgorithmError), "bad_signature"),  # an `alg` we refuse: none, HS256...
    (jwt.DecodeError, "malformed"),
    (jwt.PyJWKClientError, "unknown_key"),  # the JWKS holds no key for the token's kid
    (jwt.InvalidTokenError, "invalid_claims"),  # audience, issuer, a required claim, nbf, iat
)


def refused(exc: jwt.PyJWTError) -> InvalidToken:
    """InvalidToken for PyJWT's error: named by its class, never by its text (which may quote the token)."""
    kind = next((kind for kinds, kind in _KINDS if isinstance(exc, kinds)), "other")
    return InvalidToken(type(exc).__name__, kind)


class KeysUnavailable(Exception):
    """The JWKS endpoint could not be reached, so no token can be checked against a key it would hold."""


def algorithms_for(key: Any) -> tuple[str, ...]:
    """The algorithms a key may verify: HMAC only for a shared secret, never for a public key; never none."""
    if isinstance(key, (bytes, str)):
        return HMAC_ALGORITHMS
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_ALGORITHMS:
        return EC_ALGORITHMS[key.curve.name]
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return ("EdDSA",)
    raise ValueError(f"unsupported key type {type(key).__name__}")


def load_public_key(text_or_path: str):
    """A PEM public key, given as its text or as the path of a file holding it."""
    pem = text_or_path if "-----BEGIN" in text_or_path else Path(text_or_path).read_text()
    key = load_pem_public_key(pem.encode())
    algorithms_for(key)  # refuse a key type we would not know how to use, at start
    return key


def scopes(claims: dict) -> set[str]:
    """The scopes a token grants: `scope` (space-separated) and `scp` (a list, or space-separated)."""
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(v for v in value if isinstance(v, str))
    return granted


class TokenVerifier:
    """Checks bearer tokens: signature by the one configured key source, exp required, aud/iss when set, sub."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key: str | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        admin_scope: str = "sessions:admin",
        jwks_cooldown_s: float = 30.0,
        jwks_timeout_s: float = 5.0,
        limits: Limits | None = None,
    ):
        given = [
            name
            for name, value in (("JWT_SECRET", secret), ("JWT_PUBLIC_KEY", public_key), ("JWT_JWKS_URL", jwks_url))
            if value
        ]
        if len(given) != 1:
            raise ValueError(
                f"jwt mode needs exactly one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL (got {given or 'none'})"
            )
        self.audience, self.issuer, self.admin_scope = audience, issuer, admin_scope
        self.limits = limits or Limits()
        self._jwks: jwt.PyJWKClient | None = None
        if secret:
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
            self._key, self._algorithms = secret.encode(), HMAC_ALGORITHMS
        elif public_key:
            self._key = load_public_key(public_key)
            self._algorithms = algorithms_for(self._key)
        else:
            # PyJWKClient caches the key set; a kid it does not know refetches it, at most once per
            # cooldown, so tokens with made-up kids cannot make us hammer the identity provider.
            self._jwks = jwt.PyJWKClient(
                jwks_url,
                cache_keys=False,
                lifespan=JWKS_CACHE_S,
                timeout=jwks_timeout_s,
                cooldown_duration=jwks_cooldown_s,
            )

    def verify(self, token: str) -> Caller:
        """The caller a valid token names; InvalidToken (or KeysUnavailable for an unreachable JWKS) if none."""
        if not token:
            raise InvalidToken("empty token", "missing")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("oversized token", "malformed")
        key, algorithms = self._key_for(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise refused(exc) from None
        problems = Problems()
        check_owner(problems, claims["sub"], self.limits, "sub")
        if problems.errors:
            raise InvalidToken("unusable sub", "invalid_claims")
        return Caller(owner=claims["sub"], operator=self.admin_scope in scopes(claims), expires_at=float(claims["exp"]))

    def _key_for(self, token: str) -> tuple[Any, tuple[str, ...]]:
        if self._jwks is None:
            return self._key, self._algorithms
        try:
            jwk = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("JWKS endpoint unreachable: %s", exc)
            raise KeysUnavailable() from None
        except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.PyJWKSetError, jwt.DecodeError) as exc:
            raise refused(exc) from None
        if jwk.key_type == "oct":
            raise InvalidToken("a shared secret published in a JWKS")  # anyone who can read it could sign
        try:
            algorithms = algorithms_for(jwk.key)
        except ValueError:
            raise InvalidToken("a JWKS key that is not a public key") from None
        declared = getattr(jwk, "_jwk_data", {}).get("alg")
        return jwk.key, tuple(a for a in algorithms if declared in (None, a))
