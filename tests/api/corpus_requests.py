"""The requests of the response corpus (tests/api/test_response_corpus.py): the message routes, /healthz and their
neighbours, ok and every kind of refusal, in the order they run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

HISTORY = "corpus-history"  # 1,000 messages, seeded before the corpus runs: ids 1 to 1000
CHAT = "corpus-chat"  # opened and appended to by the corpus itself
MISSING = "corpus-missing"
HISTORY_MESSAGES = 1000
JSON = {"Content-Type": "application/json"}
LAST_ETAG = "<the last ETag answered>"  # a header value the replay replaces with the ETag of an earlier answer


@dataclass(frozen=True)
class Call:
    """One request of the corpus; its X-Request-ID is its name unless `request_id` is False."""

    name: str
    method: str
    path: str
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    request_id: bool = True


def _json(value) -> str:
    return json.dumps(value)


MESSAGES = f"/api/v1/sessions/{CHAT}/messages"
PAGES = f"/api/v1/sessions/{HISTORY}/messages"

CORPUS = (
    Call("healthz", "GET", "/healthz"),
    Call("healthz-head", "HEAD", "/healthz"),
    Call("healthz-generated-request-id", "GET", "/healthz", request_id=False),
    Call("session-open-new", "POST", "/api/v1/sessions", _json({"session_id": CHAT}), JSON),
    Call("session-open-again", "POST", "/api/v1/sessions", _json({"session_id": CHAT}), JSON),
    Call("session-get", "GET", f"/api/v1/sessions/{CHAT}"),
    Call("session-get-not-modified", "GET", f"/api/v1/sessions/{CHAT}", headers={"If-None-Match": LAST_ETAG}),
    Call("session-head", "HEAD", f"/api/v1/sessions/{CHAT}"),
    Call("session-get-missing", "GET", f"/api/v1/sessions/{MISSING}"),
    Call("session-patch", "PATCH", f"/api/v1/sessions/{CHAT}", _json({"metadata": {"topic": "corpus"}}), JSON),
    Call("session-stats", "GET", f"/api/v1/sessions/{HISTORY}/stats"),
    Call("append", "POST", MESSAGES, _json({"role": "user", "content": "hello"}), JSON),
    Call(
        "append-with-metadata",
        "POST",
        MESSAGES,
        _json({"role": "assistant", "content": "hi there", "metadata": {"model": "m-1", "tokens": [1, 2]}}),
        JSON,
    ),
    Call("append-non-ascii", "POST", MESSAGES, _json({"role": "user", "content": "caf\u00e9 \U0001f600"}), JSON),
    Call(
        "append-raw-utf8",
        "POST",
        MESSAGES,
        '{"role": "user", "content": "na\u00efve \u2013 \u65e5\u672c"}'.encode(),
        JSON,
    ),
    Call(
        "append-idempotency-first",
        "POST",
        MESSAGES,
        _json({"role": "user", "content": "once"}),
        {**JSON, "Idempotency-Key": "corpus-key-1"},
    ),
    Call(
        "append-idempotency-replay",
        "POST",
        MESSAGES,
        _json({"role": "user", "content": "once"}),
        {**JSON, "Idempotency-Key": "corpus-key-1"},
    ),
    Call(
        "append-idempotency-other-body",
        "POST",
        MESSAGES,
        _json({"role": "user", "content": "twice"}),
        {**JSON, "Idempotency-Key": "corpus-key-1"},
    ),
    Call(
        "append-idempotency-bad-key",
        "POST",
        MESSAGES,
        _json({"role": "user", "content": "x"}),
        {**JSON, "Idempotency-Key": "\u00e9" * 3},
    ),
    Call(
        "append-batch",
        "POST",
        MESSAGES,
        _json({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
        JSON,
    ),
    Call("append-bad-json", "POST", MESSAGES, '{"role": "user", "content": ', JSON),
    Call(
        "append-wrong-content-type",
        "POST",
        MESSAGES,
        _json({"role": "user", "content": "x"}),
        {"Content-Type": "text/plain"},
    ),
    Call("append-no-body", "POST", MESSAGES, None, JSON),
    Call("append-missing-role", "POST", MESSAGES, _json({"content": "x"}), JSON),
    Call("append-bad-role", "POST", MESSAGES, _json({"role": "wizard", "content": "x"}), JSON),
    Call("append-content-too-long", "POST", MESSAGES, _json({"role": "user", "content": "x" * 100_001}), JSON),
    Call("append-unknown-field", "POST", MESSAGES, _json({"role": "user", "content": "x", "mood": "calm"}), JSON),
    Call("append-not-an-object", "POST", MESSAGES, _json(["user", "x"]), JSON),
    Call(
        "append-missing-session",
        "POST",
        f"/api/v1/sessions/{MISSING}/messages",
        _json({"role": "user", "content": "x"}),
        JSON,
    ),
    Call("append-body-too-large", "POST", MESSAGES, _json({"role": "user", "content": "x" * (1024 * 1024)}), JSON),
    Call("append-wrong-method", "PUT", MESSAGES, _json({"role": "user", "content": "x"}), JSON),
    Call("page-50", "GET", f"{PAGES}?limit=50"),
    Call("page-default-limit", "GET", PAGES),
    Call("page-50-before", "GET", f"{PAGES}?limit=50&before=500"),
    Call("page-50-head", "HEAD", f"{PAGES}?limit=50"),
    Call("page-if-none-match", "GET", f"{PAGES}?limit=50", headers={"If-None-Match": LAST_ETAG}),
    Call("page-bad-limit", "GET", f"{PAGES}?limit=0"),
    Call("page-limit-not-a-number", "GET", f"{PAGES}?limit=lots"),
    Call("page-unknown-parameter", "GET", f"{PAGES}?limit=5&sort=asc"),
    Call("page-missing-session", "GET", f"/api/v1/sessions/{MISSING}/messages?limit=50"),
    Call("rewind", "POST", f"/api/v1/sessions/{CHAT}/rewind", _json({"after_message_id": 1002}), JSON),
    Call("page-include-superseded", "GET", f"{MESSAGES}?limit=50&include=superseded"),
    Call("page-after-rewind", "GET", f"{MESSAGES}?limit=50"),
    Call("context", "GET", f"/api/v1/sessions/{CHAT}/context?max_tokens=100"),
    Call("no-such-route", "GET", "/api/v1/nothing-here"),
)
