"""Turns answered as Server-Sent Events: `message`, `delta`, then `done` or `error`, each with its `id:`;
never buffered."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import flask

from backend.services.turns.following import never_gone
from backend.store.readiness import readable_check
from backend.store.turn_records import TurnEvent
from backend.web.errors import describe, error_body

EVENT_STREAM = "text/event-stream"


def wants_event_stream(request: flask.Request) -> bool:
    """True when the client named text/event-stream itself in Accept (a */* does not count)."""
    return any(value == EVENT_STREAM and quality > 0 for value, quality in request.accept_mimetypes)


def frame(event: TurnEvent) -> bytes:
    """One SSE event with its `id:`; JSON has no raw newline, so one data line is enough."""
    return f"id: {event.id}\nevent: {event.event}\ndata: {event.data_json}\n\n".encode()


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
    readable = readable_check(sock)  # kept for the stream: a follower looks after each event it is woken for

    def gone() -> bool:
        try:
            if sock.fileno() < 0:  # closed here: its descriptor's number may serve another socket by now
                return True
            if not readable():
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    return gone


def _frames(events: Iterator[TurnEvent]) -> Iterator[bytes]:
    for event in events:
        yield frame(event)


def event_stream_response(events: Iterator[TurnEvent]) -> flask.Response:
    """A turn's events as an SSE response, never buffered; closing it (the client left) closes `events`."""
    response = flask.Response(_frames(events), mimetype=EVENT_STREAM)
    response.headers["Cache-Control"] = "no-cache"
    # Proxies such as nginx buffer responses unless told not to: a delta must not wait in one.
    response.headers["X-Accel-Buffering"] = "no"
    return response


def follow_turn(turn, on_disconnect: str = "continue", after: int = 0) -> flask.Response:
    """A running turn followed by this request's client; a client that leaves ends the turn only with
    on_disconnect "stop"."""
    gone = client_gone_check(flask.request.environ)
    return event_stream_response(turn.follow(after, gone, on_disconnect))
