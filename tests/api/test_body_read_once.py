"""A request body is read once: web.slow_clients reads it within its deadline and the request takes those bytes as its
data, with the same answers as when werkzeug reads them again from the stream."""

from __future__ import annotations

import io
import json

import flask
import pytest
import werkzeug.wrappers.request as werkzeug_request
from werkzeug.test import EnvironBuilder
from werkzeug.wsgi import get_input_stream

import backend.web.slow_clients as slow_clients
from backend.web.app import SessionStoreFlask

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


def test_a_body_read_within_the_deadline_is_not_read_again_through_werkzeugs_stream(app, session, monkeypatch):
    limited = []

    def counted(*args, **kwargs):
        limited.append(args)
        return get_input_stream(*args, **kwargs)

    monkeypatch.setattr(werkzeug_request, "get_input_stream", counted)
    environ = environ_for(MESSAGE)
    status, _, body = answer(app, environ)
    assert status == "201 CREATED"
    assert json.loads(body)["content"] == "héllo"
    assert environ[slow_clients.BODY_READ] == MESSAGE
    assert limited == []  # the request's stream was the middleware's, not werkzeug's limited one
    monkeypatch.setattr(slow_clients, "BODY_READ", "unread.body")
    assert answer(app, environ_for(MESSAGE))[0] == "201 CREATED"
    assert len(limited) == 1


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


def _reading_app() -> SessionStoreFlask:
    """Views that read a body in each of the ways werkzeug allows, behind the deadline middleware as the app has it."""
    app = SessionStoreFlask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    request = flask.request

    @app.post("/form-then-data")
    def form_then_data():
        return repr((dict(request.form), request.data, request.get_data()))

    @app.post("/uncached")
    def uncached():
        return repr((request.get_data(cache=False), request.get_data(cache=False), request.stream.read()))

    @app.post("/stream-after-data")
    def stream_after_data():
        return repr((request.get_data(), request.stream.read()))

    @app.post("/own-limit")
    def own_limit():
        request.max_content_length = 10
        return repr(request.get_data())

    @app.post("/data")
    def data():
        return repr(request.get_data())

    @app.post("/shallow")
    def shallow():
        try:
            return repr(app.request_class(request.environ, shallow=True).get_data())
        except RuntimeError as exc:
            return repr(exc)

    app.wsgi_app = slow_clients.BodyDeadline(app.wsgi_app, 5, 1000)
    return app


@pytest.mark.parametrize(
    "path, body, content_type, content_length",
    [
        ("/form-then-data", b"a=1&b=2", "application/x-www-form-urlencoded", None),
        ("/uncached", b"xyz", "text/plain", None),
        ("/stream-after-data", b"xyz", "text/plain", None),
        ("/own-limit", b"x" * 50, "text/plain", None),  # a limit of the request's own, below the app's: 413
        ("/data", b"12345", "text/plain", "+5"),  # a length werkzeug reads as 0
        ("/data", b"1234567890", "text/plain", "1_0"),
        ("/shallow", b"xyz", "text/plain", None),
    ],
)
def test_werkzeugs_ways_of_reading_a_body_answer_as_before(monkeypatch, path, body, content_type, content_length):
    app = _reading_app()

    def answer_to_post():
        environ = EnvironBuilder(path, method="POST", data=body, content_type=content_type).get_environ()
        if content_length is not None:
            environ["CONTENT_LENGTH"] = content_length
        environ["wsgi.input"] = io.BytesIO(body)
        return answer(app, environ)

    taken = answer_to_post()
    monkeypatch.setattr(slow_clients, "BODY_READ", "unread.body")
    assert taken == answer_to_post()
