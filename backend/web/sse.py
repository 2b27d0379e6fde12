"""Turns answered as Server-Sent Events: `message`, `delta`, then `done` or `error`; never buffered."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Callable, Iterator

import flask
from werkzeug.wsgi import ClosingIterator

from backend.schemas.messages import MessageSchema
from backend.services.turns.stream import StreamedTurn, never_gone
from backend.web.errors import describe, error_body

EVENT_STREAM = "text/event-stream"
_MESSAGE = MessageSchema()


def wants_event_stream(request: flask.Request) -> bool:
    """True when the client named text/event-stream itself in Accept (a */* does not count)."""
    return any(value == EVENT_STREAM and quality > 0 for value, quality in request.accept_mimetypes)


def frame(event: str, data) -> bytes:
    """One SSE event; JSON has no raw newline, so one data line is enough."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def error_data(error: Exception) -> dict:
    """The error event's body: the same body an HTTP error has (errors.describe and error_body)."""
    code, message, errors, _ = describe(error)
    return error_body(code, message, errors)


def client_gone_check(environ: dict) -> Callable[[], bool]:
    """A check that the client closed its connection: gunicorn hands over the socket. The body is
    read by now, so a readable socket that reads as empty means the client is gone."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return never_gone

    def gone() -> bool:
        try:
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
            events = poller.poll(0)
            if not events:
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    return gone


def _frames(turn: StreamedTurn, gone: Callable[[], bool]) -> Iterator[bytes]:
    yield frame("message", _MESSAGE.dump(turn.message))
    for kind, value in turn.events(gone):
        if kind == "delta":
            yield frame("delta", {"text": value})
        elif kind == "done":
            yield frame("done", _MESSAGE.dump(value))
        else:
            yield frame("error", error_data(value))


def event_stream_response(turn: StreamedTurn) -> flask.Response:
    """The turn as an SSE response; closing it early (the client left) ends the turn as interrupted."""
    frames = _frames(turn, client_gone_check(flask.request.environ))
    # ClosingIterator closes the turn even if the server never started iterating (a generator
    # closed before its first step runs no finally).
    response = flask.Response(ClosingIterator(frames, [turn.close]), mimetype=EVENT_STREAM)
    response.headers["Cache-Control"] = "no-cache"
    # Proxies such as nginx buffer responses unless told not to: a delta must not wait in one.
    response.headers["X-Accel-Buffering"] = "no"
    return response
