"""Hostile requests, each with the documented answer; none of them may store anything."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

S = "/api/v1/sessions"
T = f"{S}/target"  # a session that exists, with one message
MIB = 1024 * 1024


def j(value) -> bytes:
    """A JSON body."""
    return json.dumps(value).encode()


def nested(depth: int, open_: str = '{"a":', close: str = "}") -> bytes:
    """A message body whose metadata is nested `depth` levels deep."""
    return b'{"role":"user","content":"x","metadata":' + (open_ * depth + "1" + close * depth).encode() + b"}"


@dataclass(frozen=True)
class Case:
    """One hostile request and the statuses the contract allows for it."""

    kind: str
    name: str
    method: str
    path: str
    body: bytes | None = None
    expect: frozenset[int] = frozenset()
    headers: dict = field(default_factory=dict)
    chunked: bool = False


def case(kind, name, method, path, body=None, expect=(422,), **kw) -> Case:
    """A Case with `expect` given as any iterable of statuses."""
    return Case(kind, name, method, path, body, frozenset(expect), **kw)


MSG = f"{T}/messages"
CORPUS: list[Case] = [
    # invalid JSON
    case("invalid JSON", "truncated", "POST", MSG, b'{"role": "user", "content": ', (400,)),
    case("invalid JSON", "trailing garbage", "POST", MSG, b'{"role":"user","content":"x"} xyz', (400,)),
    case("invalid JSON", "single quotes", "POST", S, b"{'session_id': 'q1'}", (400,)),
    case(
        "invalid JSON",
        "number over 4300 digits",
        "POST",
        MSG,
        b'{"role":"user","content":"x","metadata":{"a":' + b"9" * 5000 + b"}}",
        (400,),
    ),
    case("invalid JSON", "chat body truncated", "POST", "/api/v1/chat", b'{"session_id":"target","mess', (400,)),
    # wrong types
    case("wrong types", "content is a number", "POST", MSG, j({"role": "user", "content": 5})),
    case("wrong types", "role is a list", "POST", MSG, j({"role": ["user"], "content": "x"})),
    case("wrong types", "role not a role", "POST", MSG, j({"role": "admin", "content": "x"})),
    case("wrong types", "metadata is a string", "POST", MSG, j({"role": "user", "content": "x", "metadata": "{}"})),
    case("wrong types", "metadata is a list", "POST", MSG, j({"role": "user", "content": "x", "metadata": [1]})),
    case("wrong types", "metadata NaN", "POST", MSG, b'{"role":"user","content":"x","metadata":{"a":NaN}}'),
    case("wrong types", "session_id is a number", "POST", S, j({"session_id": 123})),
    case("wrong types", "body is a list", "POST", MSG, j([{"role": "user", "content": "x"}])),
    case("wrong types", "body is a string", "POST", S, j("target")),
    case("wrong types", "limit negative", "GET", f"{MSG}?limit=-1"),
    case("wrong types", "limit over 500", "GET", f"{MSG}?limit=501"),
    case("wrong types", "before zero", "GET", f"{MSG}?before=0"),
    case("wrong types", "before not a number", "GET", f"{MSG}?before=1%20OR%201=1"),
    case("wrong types", "chat message null", "POST", "/api/v1/chat", j({"session_id": "target", "message": None})),
    case(
        "wrong types",
        "audio duration negative",
        "POST",
        "/api/v1/voice",
        j({"session_id": "target", "transcript": "x", "audio": {"duration_ms": -1}}),
    ),
    case("wrong types", "content empty", "POST", MSG, j({"role": "user", "content": ""})),
    case(
        "wrong types",
        "text/plain body",
        "POST",
        MSG,
        j({"role": "user", "content": "x"}),
        (415, 422),
        headers={"Content-Type": "text/plain"},
    ),
    # missing fields
    case("missing fields", "empty object", "POST", MSG, j({})),
    case("missing fields", "no content", "POST", MSG, j({"role": "user"})),
    case("missing fields", "no body at all", "POST", MSG, None),
    case("missing fields", "chat without message", "POST", "/api/v1/chat", j({"session_id": "target"})),
    case("missing fields", "voice without transcript", "POST", "/api/v1/voice", j({"session_id": "target"})),
    # unknown fields
    case("unknown fields", "extra field on a message", "POST", MSG, j({"role": "user", "content": "x", "id": 1})),
    case("unknown fields", "extra field on create", "POST", S, j({"session_id": "u1", "is_admin": True})),
    case("unknown fields", "message_count on update", "PATCH", T, j({"message_count": 0})),
    case(
        "unknown fields",
        "extra field in audio",
        "POST",
        "/api/v1/voice",
        j({"session_id": "target", "transcript": "x", "audio": {"format": "wav", "codec": "x"}}),
    ),
    # over the limits
    case("too large", "body over MAX_CONTENT_LENGTH", "POST", MSG, j({"role": "user", "content": "x" * MIB}), (413,)),
    case(
        "too large",
        "chunked body over MAX_CONTENT_LENGTH",
        "POST",
        MSG,
        j({"role": "user", "content": "x" * MIB}),
        (413,),
        chunked=True,
    ),
    # Valid JSON within the limit, padded past it: must not be accepted as its first MAX_CONTENT_LENGTH bytes.
    case(
        "too large",
        "chunked valid JSON padded past the limit",
        "POST",
        MSG,
        j({"role": "user", "content": "padded"}) + b" " * (2 * MIB),
        (413,),
        chunked=True,
    ),
    case("too large", "content over 100,000 characters", "POST", MSG, j({"role": "user", "content": "x" * 100_001})),
    case(
        "too large",
        "metadata over 16 KiB",
        "POST",
        MSG,
        j({"role": "user", "content": "x", "metadata": {"a": "x" * 17_000}}),
    ),
    case("too large", "fingerprint over 256", "POST", S, j({"session_id": "fp1", "device_fingerprint": "f" * 257})),
    # deep nesting
    case("deep nesting", "metadata objects 5,000 deep", "POST", MSG, nested(5_000), (400,)),
    case("deep nesting", "metadata lists 100,000 deep", "POST", MSG, nested(100_000, "[", "]"), (400,)),
    case("deep nesting", "metadata objects 1,500 deep", "POST", MSG, nested(1_500), (400,)),
    # invalid UTF-8 and lone surrogates
    case("invalid UTF-8", "0xff in content", "POST", MSG, b'{"role":"user","content":"\xff"}', (400,)),
    case("invalid UTF-8", "overlong slash", "POST", MSG, b'{"role":"user","content":"\xc0\xaf"}', (400,)),
    case("invalid UTF-8", "UTF-16 body", "POST", MSG, '{"role":"user","content":"x"}'.encode("utf-16"), (400,)),
    case(
        "invalid UTF-8",
        "encoded surrogate in content",
        "POST",
        MSG,
        b'{"role":"user","content":"\xed\xa0\x80"}',
        (400,),
    ),
    case("invalid UTF-8", "lone surrogate escape in content", "POST", MSG, b'{"role":"user","content":"\\ud800"}'),
    case("invalid UTF-8", "lone surrogate in metadata key", "PATCH", T, b'{"metadata":{"\\udc80":1}}'),
    case(
        "invalid UTF-8",
        "lone surrogate in chat session_id",
        "POST",
        "/api/v1/chat",
        b'{"session_id":"\\udc80","message":"x"}',
    ),
    case(
        "invalid UTF-8",
        "lone surrogate in fingerprint",
        "POST",
        S,
        b'{"session_id":"fp2","device_fingerprint":"\\udfff"}',
    ),
    # NUL bytes
    case("NUL bytes", "NUL in content", "POST", MSG, j({"role": "user", "content": "a\x00b"})),
    case("NUL bytes", "NUL in new session id", "POST", S, j({"session_id": "a\x00b"})),
    case(
        "NUL bytes",
        "NUL in path id",
        "POST",
        f"{S}/target%00/messages",
        j({"role": "user", "content": "x"}),
        (404, 422),
    ),
    case(
        "NUL bytes", "NUL in metadata key", "POST", MSG, j({"role": "user", "content": "x", "metadata": {"a\x00": 1}})
    ),
    case("NUL bytes", "NUL in fingerprint", "PATCH", T, j({"device_fingerprint": "\x00"})),
    # SQL and shell metacharacters in ids (in content they are plain text: see the exact-storage cases)
    case("SQL metacharacters", "quote in new id", "POST", S, j({"session_id": "x'; DROP TABLE sessions;--"})),
    case("SQL metacharacters", "tautology in path id", "GET", f"{S}/x'%20OR%20'1'='1", None, (404,)),
    case("SQL metacharacters", "LIKE wildcard as id", "GET", f"{S}/%25", None, (404,)),
    case("SQL metacharacters", "wildcard delete", "DELETE", f"{S}/%25", None, (404,)),
    case("SQL metacharacters", "UNION in before", "GET", f"{MSG}?before=1%20UNION%20SELECT%201"),
    case("shell metacharacters", "command substitution in new id", "POST", S, j({"session_id": "$(id)"})),
    case("shell metacharacters", "backticks in path id", "DELETE", f"{S}/%60reboot%60", None, (404,)),
    # path traversal and encoded slashes
    case("path traversal", "dot segments", "GET", f"{S}/../../../etc/passwd", None, (404,)),
    case("path traversal", "encoded dot segments", "GET", f"{S}/%2e%2e/%2e%2e/etc/passwd", None, (404,)),
    case("path traversal", "encoded slashes", "GET", f"{S}/..%2F..%2Fetc%2Fpasswd", None, (404,)),
    case(
        "path traversal",
        "encoded slash in append",
        "POST",
        f"{S}/a%2Fb/messages",
        j({"role": "user", "content": "x"}),
        (404,),
    ),
    case("path traversal", "delete through encoded slash", "DELETE", f"{S}/x%2F..%2Ftarget", None, (404,)),
    case("path traversal", "new id with slashes", "POST", S, j({"session_id": "../../etc/passwd"})),
    case("path traversal", "backslashes", "GET", f"{S}/..%5C..%5Cwindows", None, (404,)),
    # very long ids
    case("long ids", "new id of 129 characters", "POST", S, j({"session_id": "a" * 129})),
    case("long ids", "new id of 100,000 characters", "POST", S, j({"session_id": "a" * 100_000})),
    case("long ids", "path id of 3,000 characters", "GET", f"{S}/{'a' * 3000}", None, (404,)),
    case("long ids", "path id over gunicorn's request line", "GET", f"{S}/{'a' * 5000}", None, (400, 414)),
    case(
        "long ids",
        "chat to a 10,000-character id",
        "POST",
        "/api/v1/chat",
        j({"session_id": "a" * 10_000, "message": "x"}),
        (404,),
    ),
    # wrong method
    case("wrong method", "PUT a session", "PUT", T, j({}), (405,)),
    case("wrong method", "DELETE the collection", "DELETE", S, None, (405,)),
]

# Stored and returned exactly, byte for byte.
EXACT_CONTENTS: list[tuple[str, str]] = [
    ("SQL injection text", "'; DROP TABLE chat_history; -- \" OR 1=1 /* */ UNION SELECT * FROM sessions"),
    ("shell text", "$(reboot); `id` | rm -rf / && echo $HOME > /dev/null; ${IFS}"),
    ("path text", "../../etc/passwd %2F..%2F C:\\Windows\\system32 \\\\server\\share"),
    ("emoji", "👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇺🇳 🫠"),
    ("combining and precomposed", "e\u0301 é Å Å ﬁ"),
    ("right to left", "مرحبا بالعالم \u202eevil\u202c עברית"),
    ("CJK and astral", "你好，世界 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱𠝹"),
    ("invisible characters", "zero\u200bwidth \ufeffbom \u2028line\u2029para \u00a0nbsp"),
    ("control characters", "tab\tnew\nline\r\nbell\x07 esc\x1b[31m del\x7f"),
    ("percent and wildcards", "100% _ %% \\% [a-z]* ?"),
    ("HTML", "<script>alert(1)</script><img src=x onerror=alert(1)>"),
    ("100,000 astral characters", "😀" * 100_000),
]
EXACT_METADATA = {"ключ": "значение", "emoji 🔑": ["🧪", {"nested ✓": True}], "quote'\"": "$(id)", "n": 1.5e300}
