"""TokenVerifier: who a bearer token names, and every way a token is refused (no Flask, no database)."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from backend.observability.metrics import REJECTION_REASONS
from backend.services.tokens import (
    HMAC_ALGORITHMS,
    RSA_ALGORITHMS,
    Caller,
    InvalidToken,
    KeysUnavailable,
    TokenVerifier,
    algorithms_for,
)
from tests.auth.tokens import (
    ADMIN_SCOPE,
    AUDIENCE,
    ISSUER,
    JwksServer,
    claims,
    hmac_with,
    hostile_tokens,
    jwk_of,
    public_pem,
    rsa_key,
    sign,
)

KEY = rsa_key()
SECRET = "a-shared-secret-of-at-least-32-bytes!"


@pytest.fixture(scope="module")
def verifier():
    return TokenVerifier(public_key=public_pem(KEY), audience=AUDIENCE, issuer=ISSUER, admin_scope=ADMIN_SCOPE)


def test_a_valid_token_names_its_sub_as_the_owner(verifier):
    assert verifier.verify(sign(KEY, claims("alice"))) == Caller(owner="alice", operator=False)


@pytest.mark.parametrize(
    "grant", [{"scope": "openid sessions:admin"}, {"scp": ["read", "sessions:admin"]}, {"scp": "sessions:admin"}]
)
def test_the_admin_scope_in_scope_or_scp_makes_an_operator(verifier, grant):
    caller = verifier.verify(sign(KEY, claims("ops", **grant)))
    assert caller == Caller(owner="ops", operator=True) and caller.scope is None


def test_a_scope_that_only_contains_the_admin_scope_as_text_is_not_an_operator(verifier):
    assert verifier.verify(sign(KEY, claims("eve", scope="sessions:administrator"))).operator is False


# Why each hostile token is refused, as the refusals' metric counts it.
KINDS = {
    "expired": "expired",
    "not yet valid": "invalid_claims",
    "wrong signature": "bad_signature",
    "wrong audience": "invalid_claims",
    "wrong issuer": "invalid_claims",
    "no exp": "invalid_claims",
    "alg none": "bad_signature",
    "HS256 with the public key as secret": "bad_signature",
    "no sub": "invalid_claims",
    "garbage": "malformed",
    "three garbage parts": "malformed",
    "empty bearer": "missing",
}


@pytest.mark.parametrize("name", list(hostile_tokens(KEY)))
def test_every_hostile_token_is_refused_with_its_kind_and_never_its_text(verifier, name):
    token = hostile_tokens(KEY)[name]
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)
    assert refused.value.kind == KINDS[name] and refused.value.kind in REJECTION_REASONS
    assert not token or token not in f"{refused.value.reason} {refused.value}"


def test_a_sub_longer_than_an_owner_may_be_is_refused(verifier):
    with pytest.raises(InvalidToken):
        verifier.verify(sign(KEY, claims("x" * 257)))


def test_an_oversized_token_is_refused_before_it_is_parsed(verifier):
    with pytest.raises(InvalidToken, match="oversized") as refused:
        verifier.verify("a" * 9000)
    assert refused.value.kind == "malformed"


def test_a_shared_secret_allows_hmac_only_and_must_be_long_enough():
    verifier = TokenVerifier(secret=SECRET)
    token = sign(SECRET, {k: v for k, v in claims("alice").items() if k not in ("aud", "iss")}, algorithm="HS256")
    assert verifier.verify(token).owner == "alice"
    with pytest.raises(InvalidToken):
        verifier.verify(sign(KEY, {k: v for k, v in claims("alice").items() if k not in ("aud", "iss")}))
    with pytest.raises(ValueError, match="32 bytes"):
        TokenVerifier(secret="short")


def test_a_token_with_an_audience_is_refused_when_none_is_configured():
    verifier = TokenVerifier(secret=SECRET)
    with pytest.raises(InvalidToken):
        verifier.verify(sign(SECRET, claims("alice"), algorithm="HS256"))


def test_exactly_one_key_source_is_required():
    with pytest.raises(ValueError, match="exactly one"):
        TokenVerifier()
    with pytest.raises(ValueError, match="exactly one"):
        TokenVerifier(secret=SECRET, public_key=public_pem(KEY))


def test_algorithms_follow_the_key_type():
    assert algorithms_for(b"secret") == HMAC_ALGORITHMS
    assert algorithms_for(KEY.public_key()) == RSA_ALGORITHMS
    assert algorithms_for(ec.generate_private_key(ec.SECP256R1()).public_key()) == ("ES256",)
    assert "none" not in HMAC_ALGORITHMS + RSA_ALGORITHMS


def test_an_es256_public_key_verifies_es256_tokens_only():
    key = ec.generate_private_key(ec.SECP256R1())
    verifier = TokenVerifier(public_key=public_pem(key), audience=AUDIENCE, issuer=ISSUER)
    assert verifier.verify(sign(key, claims("alice"), algorithm="ES256")).owner == "alice"
    with pytest.raises(InvalidToken):
        verifier.verify(hmac_with(public_pem(key).encode(), claims("alice")))


@pytest.fixture
def jwks():
    server = JwksServer([jwk_of(KEY, "k1")])
    yield server
    server.close()


def test_keys_come_from_a_jwks_and_a_rotation_is_picked_up(jwks):
    verifier = TokenVerifier(jwks_url=jwks.url, audience=AUDIENCE, issuer=ISSUER, jwks_cooldown_s=0.2)
    assert verifier.verify(sign(KEY, claims("alice"), kid="k1")).owner == "alice"
    assert verifier.verify(sign(KEY, claims("bob"), kid="k1")).owner == "bob"
    assert jwks.fetches == 1  # cached
    new_key = rsa_key()
    jwks.keys = [jwk_of(new_key, "k2")]  # rotation: k1 retired, k2 published
    time.sleep(0.3)
    assert verifier.verify(sign(new_key, claims("alice"), kid="k2")).owner == "alice"
    assert jwks.fetches == 2  # the unknown kid fetched the set again
    with pytest.raises(InvalidToken):
        verifier.verify(sign(KEY, claims("alice"), kid="k1"))  # the retired key is gone from the cache too


def test_unknown_kids_refetch_the_jwks_at_most_once_per_cooldown(jwks):
    verifier = TokenVerifier(jwks_url=jwks.url, audience=AUDIENCE, issuer=ISSUER, jwks_cooldown_s=60)
    verifier.verify(sign(KEY, claims("alice"), kid="k1"))
    for i in range(20):
        with pytest.raises(InvalidToken) as refused:
            verifier.verify(sign(rsa_key() if i == 0 else KEY, claims("alice"), kid=f"made-up-{i}"))
        assert refused.value.kind == "unknown_key" and f"made-up-{i}" not in str(refused.value)
    assert jwks.fetches == 1


@pytest.mark.parametrize("name", list(hostile_tokens(KEY, kid="k1")))
def test_every_hostile_token_is_refused_with_a_jwks(jwks, name):
    verifier = TokenVerifier(jwks_url=jwks.url, audience=AUDIENCE, issuer=ISSUER)
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(hostile_tokens(KEY, kid="k1")[name])
    # Without a kid (alg none is built with none), no key of the JWKS can be picked for it.
    assert refused.value.kind == ("unknown_key" if name == "alg none" else KINDS[name])


def test_a_shared_secret_published_in_a_jwks_is_not_trusted(jwks):
    jwks.keys = [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "alg": "HS256"}]
    verifier = TokenVerifier(jwks_url=jwks.url, audience=AUDIENCE, issuer=ISSUER)
    with pytest.raises(InvalidToken):
        verifier.verify(sign(b"secret-secret-secret-secret-secret", claims("alice"), kid="k1", algorithm="HS256"))


def test_an_unreachable_jwks_is_keys_unavailable_not_a_bad_token():
    verifier = TokenVerifier(jwks_url="http://127.0.0.1:9/jwks.json", jwks_timeout_s=1)
    with pytest.raises(KeysUnavailable):
        verifier.verify(sign(KEY, claims("alice"), kid="k1"))
