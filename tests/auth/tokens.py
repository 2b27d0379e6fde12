"""Keys and tokens for the access-control tests: Alice, Bob, an operator, and every hostile token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.loopback import LoopbackServer, QuietHandler

AUDIENCE = "session-store"
ISSUER = "https://idp.test/"
ADMIN_SCOPE = "sessions:admin"


def rsa_key():
    """A fresh RSA private key (2048 bits)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(private_key) -> str:
    """The PEM text of a private key's public half."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def jwk_of(private_key, kid: str) -> dict:
    """The public JWK of an RSA key, as an identity provider publishes it."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def claims(sub: str | None, **extra) -> dict:
    """Valid claims for `sub` (none when sub is None): an hour to live, our audience and issuer."""
    now = int(time.time())
    base = {"iat": now, "exp": now + 3600, "aud": AUDIENCE, "iss": ISSUER}
    if sub is not None:
        base["sub"] = sub
    return {**base, **extra}


def sign(private_key, payload: dict, kid: str | None = None, algorithm: str = "RS256") -> str:
    """A token signed with `private_key` (or an HMAC secret)."""
    return jwt.encode(payload, private_key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict) -> str:
    """alg none: a header and payload, no signature."""
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}."


def hmac_with(secret: bytes, payload: dict, kid: str | None = None) -> str:
    """HS256 by hand, with any bytes as the secret (PyJWT refuses to sign with a PEM key, as it should)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def hostile_tokens(key, kid: str | None = None) -> dict[str, str]:
    """Every token an intruder may send, by name; `key` is the trusted RSA key (so signatures are right
    where only a claim is wrong)."""
    now = int(time.time())
    return {
        "expired": sign(key, claims("alice", exp=now - 3600, iat=now - 7200), kid),
        "not yet valid": sign(key, claims("alice", nbf=now + 3600), kid),
        "wrong signature": sign(rsa_key(), claims("alice"), kid),
        "wrong audience": sign(key, claims("alice", aud="another-api"), kid),
        "wrong issuer": sign(key, claims("alice", iss="https://evil.test/"), kid),
        "no exp": sign(key, {k: v for k, v in claims("alice").items() if k != "exp"}, kid),
        "alg none": unsigned(claims("alice", scope=ADMIN_SCOPE)),
        "HS256 with the public key as secret": hmac_with(
            public_pem(key).encode(), claims("alice", scope=ADMIN_SCOPE), kid
        ),
        "no sub": sign(key, claims(None, scope=ADMIN_SCOPE), kid),
        "garbage": "garbage",
        "three garbage parts": "abc.def.ghi",
        "empty bearer": "",
    }


class JwksServer:
    """A loopback HTTP server publishing a JWKS that a test can rotate; counts the fetches."""

    def __init__(self, keys: list[dict]):
        self.keys = keys
        self.fetches = 0
        server = self

        class Handler(QuietHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                server.fetches += 1
                self.answer_json({"keys": server.keys})

        self.loopback = LoopbackServer(Handler, "/.well-known/jwks.json")
        self.url = self.loopback.url

    def close(self) -> None:
        """Stop serving."""
        self.loopback.close()
