"""A request body is read once: web.slow_clients reads it within its deadline and the request takes those bytes as its
data, with the same answers as when werkzeug reads them again from the stream."""

from __future__ import annotations

import io
import json

import pytest
from werkzeug.test import EnvironBuilder

import backend.web.slow_clients as slow_clients

MESSAGES = "/api/v1/sessions/s1/messages"
MESSAGE = b'{"role": "user", "content": "h\xc3\xa9llo"}'


@pytest.fixture
def session(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    return "s1"


def environ_for(body: bytes, *, content_type="application/json", content_length=None, chunked=False) -> dict:
    """A POST of `body` to the session's messages as a server hands it over (its input a stream to read)."""
    environ = EnvironBuilder(MESSAGES, method="POST", data=body, content_type=content_type).get_environ()
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    if chunked:  # as gunicorn hands over a chunked body: no length, the stream ends where the body does
        del environ["CONTENT_LENGTH"]
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    environ["wsgi.input"] = io.BytesIO(body)
    return environ


def answer(app, environ: dict) -> tuple[str, dict, bytes]:
    """The app's answer to `environ` (called as a server calls it: what the app notes in the environ stays there)."""
    started = []
    chunks = app(environ, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    status, headers = started[-1]
    kept = [(name, value) for name, value in headers if name != "X-Request-ID"]  # a new id for every request
    return status, kept, body


def test_a_body_read_within_the_deadline_is_not_read_from_the_stream_again(app, session):
    environ = environ_for(MESSAGE)
    status, _, body = answer(app, environ)
    assert status == "201 CREATED"
    assert json.loads(body)["content"] == "héllo"
    # The middleware's stream of the body it read, untouched: the request took the bytes themselves.
    assert environ[slow_clients.BODY_READ] == MESSAGE
    assert environ["wsgi.input"].tell() == 0


@pytest.mark.parametrize(
    "body, options",
    [
        (MESSAGE[:10], {"content_length": len(MESSAGE)}),  # shorter than its Content-Length: the client went away
        (b'{"role": "user", "content": ', {}),  # not JSON
        (b"[" * 5000 + b"]" * 5000, {}),  # nested too deep for Python's json
        (b'{"role": "user", "content": "hi", "extra": 1}', {}),  # an unknown field
        (b'{"role": "robot", "content": "hi"}', {}),  # a rule of the service's
        (MESSAGE, {"content_type": "text/plain"}),  # not sent as JSON
        (MESSAGE, {"chunked": True}),  # no length: werkzeug's stream reads it
        (b"", {}),
    ],
    ids=["short", "bad-json", "deep", "unknown-field", "bad-role", "text-plain", "chunked", "empty"],
)
def test_the_answer_is_the_same_as_when_werkzeug_reads_the_stream(app, session, monkeypatch, body, options):
    taken = answer(app, environ_for(body, **options))
    # The middleware's body noted under a key the request does not read: werkzeug reads it from the stream again.
    monkeypatch.setattr(slow_clients, "BODY_READ", "unread.body")
    read_again = answer(app, environ_for(body, **options))
    if options.get("chunked"):  # stored twice: the same but for the id and the time
        assert taken[:2] == read_again[:2] and taken[0] == "201 CREATED"
        assert json.loads(taken[2])["content"] == json.loads(read_again[2])["content"] == "héllo"
        return
    assert taken == read_again
    assert not taken[0].startswith("2")


def test_a_stored_message_is_the_same_either_way(app, client, session, monkeypatch):
    taken = json.loads(answer(app, environ_for(MESSAGE))[2])
    monkeypatch.setattr(slow_clients, "BODY_READ", "unread.body")
    read_again = json.loads(answer(app, environ_for(MESSAGE))[2])
    assert read_again["id"] == taken["id"] + 1
    for stored in (taken, read_again):
        del stored["id"], stored["timestamp"]
    assert taken == read_again == {"session_id": "s1", "role": "user", "content": "héllo", "metadata": {}}
    assert client.get("/api/v1/sessions/s1").get_json()["message_count"] == 2
