"""Slow clients are cut off: a request body must arrive within CLIENT_TIMEOUT_S (gunicorn's keepalive bounds the
headers)."""

from __future__ import annotations

import io
import logging
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.wsgi import get_content_length

from backend.web.app import BODY_READ
from backend.web.observability import REFUSED_BEFORE_THE_APP

log = logging.getLogger(__name__)


class BodyDeadline:
    """WSGI middleware: reads the whole body before the app runs, within `timeout_s` in all; else the app answers 408.

    Under the gevent worker the deadline is one gevent.Timeout over the whole read, so a client that
    trickles a byte a second is cut off too. Elsewhere each read of the socket waits at most
    `timeout_s`, which bounds a silent client but not a trickling one.
    """

    def __init__(self, app, timeout_s: float, max_bytes: int | None):
        self.app = app
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        length = _content_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        too_long = self.max_bytes is not None and length is not None and length > self.max_bytes
        if not (length or chunked) or too_long:
            return self.app(environ, start_response)  # nothing to wait for, or refused (413) unread
        try:
            with _deadline(self.timeout_s, environ.get("gunicorn.socket")):
                body = _read(environ["wsgi.input"], length, self.max_bytes)
        except _DeadlineExceeded:
            return self._timed_out(environ, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        # A body read whole, as long as werkzeug reads its Content-Length, is the request's stream (web.app.BODY_READ);
        # a short body, or a chunked one, stays werkzeug's to read and refuse.
        if not chunked and len(body) == get_content_length(environ):
            environ[BODY_READ] = body
        return self.app(environ, start_response)

    def _timed_out(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        log.warning(
            "slow_client outcome=timeout phase=body path=%s timeout_s=%g", environ.get("PATH_INFO"), self.timeout_s
        )
        if sock is not None:
            # The rest of the body will never be read: ending the read side makes the server close
            # the connection after this answer instead of draining a trickle.
            try:
                sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        # The app answers the 408, so that it gets its request id, access line and count like any other
        # answer: written here, it had none of them.
        environ[REFUSED_BEFORE_THE_APP] = (408, f"the request body did not arrive within {self.timeout_s:g} s")
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(), "0"
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


class _DeadlineExceeded(Exception):
    pass


def _content_length(environ) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _read(stream, length: int | None, max_bytes: int | None) -> bytes:
    if length:
        return stream.read(length)
    # Chunked: one byte past the limit is enough for the app to answer 413.
    return stream.read(max_bytes + 1) if max_bytes is not None else stream.read()


@contextmanager
def _deadline(timeout_s: float, sock) -> Iterator[None]:
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        import gevent

        with gevent.Timeout(timeout_s, _DeadlineExceeded):
            yield
        return
    previous = sock.gettimeout() if sock is not None else None
    if sock is not None:
        sock.settimeout(timeout_s)
    try:
        yield
    except TimeoutError:
        raise _DeadlineExceeded() from None
    finally:
        if sock is not None:
            try:
                sock.settimeout(previous)
            except OSError:
                pass
