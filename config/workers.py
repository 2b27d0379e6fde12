"""gunicorn's workers, answering gunicorn's own errors in the app's JSON shape instead of an HTML page.

gunicorn answers some requests before the app sees them (a malformed request line 400, a request line
too long 414, header fields too large 431, ...) and writes an HTML page for each (gunicorn.util.write_error).
These subclasses keep gunicorn's choice of status, its log line and its closing of the connection, and send
{"code", "message", "status"} as backend.web.errors does. The message is generic, chosen by the kind of
error: it never quotes the request line or header that was refused."""

from __future__ import annotations

import json
from http import HTTPStatus

from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers import ggevent, gthread, sync  # importing gevent patches nothing; its worker does

# gunicorn's bundled worker classes (GUNICORN_WORKER_CLASS) and their subclasses here.
_SUBCLASSES = {
    "gevent": "config.workers.GeventWorker",
    "sync": "config.workers.SyncWorker",
    "gthread": "config.workers.ThreadWorker",
}

# The first kind that matches names the problem (a 500 is always "internal server error"); any other error
# is named by its status ("forbidden", "bad request").
_MESSAGES = (
    (errors.LimitRequestLine, "request line too long"),
    (errors.LimitRequestHeaders, "request header fields too large"),  # too long or too many
    (errors.InvalidRequestLine, "invalid request line"),
    (errors.InvalidRequestMethod, "invalid request method"),
    (errors.InvalidHTTPVersion, "unsupported HTTP version"),
    ((errors.InvalidHeader, errors.InvalidHeaderName, errors.ObsoleteFolding), "invalid request header"),
    (errors.UnsupportedTransferCoding, "unsupported transfer coding"),
    ((errors.InvalidChunkSize, errors.ChunkMissingTerminator, errors.InvalidChunkExtension), "invalid chunked body"),
)


def json_errors(worker_class: str, threads: float = 1) -> str:
    """The worker class to give gunicorn for GUNICORN_WORKER_CLASS: ours for gevent, sync and gthread (sync with
    more than one thread is gthread, as gunicorn itself runs it); any other name as it is."""
    if worker_class == "sync" and threads > 1:
        worker_class = "gthread"
    return _SUBCLASSES.get(worker_class, worker_class)


class JSONErrors:
    """Mixed into a gunicorn worker (before it): gunicorn's error answers in the app's JSON error shape."""

    def handle_error(self, req, client, addr, exc):
        # gunicorn's own handle_error picks the status and logs; its HTML page goes to `page`, not to the client.
        page = _Page(client)
        super().handle_error(req, page, addr, exc)
        try:
            status = int(page.written.split(b" ", 2)[1])  # b"HTTP/1.1 414 URI Too Long\r\n..."
        except (IndexError, ValueError):  # no page written: not expected from gunicorn 27
            status = 500
        request_id = _count_and_log(req, status)
        try:
            util.write_nonblock(client, json_error(status, _message(status, exc), request_id))
        except Exception:
            self.log.debug("Failed to send error message.")


# The route of a request gunicorn refused before the app saw it, in the access line and the metric.
UNPARSED_ROUTE = "unparsed"


def _count_and_log(req, status: int) -> str | None:
    """As the app does for its own answers: a request id, the access line, the count. None if that fails."""
    try:
        # Imported here: the master imports this module before PROMETHEUS_MULTIPROC_DIR is set, and
        # prometheus-client chooses its multiprocess mode when first imported.
        from backend.context import request_id
        from backend.web.observability import REQUEST_ID_HEADER, answered, request_id_for

        headers = getattr(req, "headers", None) or ()
        given = next((value for name, value in headers if name == REQUEST_ID_HEADER.upper()), None)
        rid = request_id_for(given)
        token = request_id.set(rid)
        try:
            answered(UNPARSED_ROUTE, getattr(req, "method", None) or "-", status, 0.0)
        finally:
            request_id.reset(token)
        return rid
    except Exception:  # noqa: BLE001 - the error answer itself must still go out
        return None


def json_error(status: int, message: str, request_id: str | None = None) -> bytes:
    """A whole response, closing the connection; its body as backend.web.errors.error_response writes one."""
    phrase = _phrase(status)  # in the status line too (gunicorn's says "Bad Request" for its 501 and some 500s)
    body = json.dumps({"code": status, "message": message, "status": phrase}, separators=(",", ":")) + "\n"
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        + (f"X-Request-ID: {request_id}\r\n" if request_id else "")
        + f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return (head + body).encode("latin-1")


def _message(status: int, exc: BaseException) -> str:
    if status == 500:
        return "internal server error"
    for kinds, message in _MESSAGES:
        if isinstance(exc, kinds):
            return message
    return _phrase(status).lower()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Page:
    """Stands in for the client's socket while gunicorn writes its error page: keeps the bytes, sends none."""

    def __init__(self, sock):
        self._sock = sock
        self.written = b""

    def gettimeout(self) -> float:
        return 0.0  # non-blocking already: util.write_nonblock leaves the real socket's mode alone

    def sendall(self, data: bytes) -> None:
        self.written += data

    def __getattr__(self, name):
        return getattr(self._sock, name)


_GEVENT_MAX_ACCEPT = ggevent.StreamServer.max_accept  # connections accepted per turn of the loop, at most


class _AcceptEveryWaiting(ggevent.StreamServer):
    """gevent's stream server keeping gevent's own max_accept where gunicorn sets 1 (GeventWorker)."""

    @property
    def max_accept(self) -> int:
        return _GEVENT_MAX_ACCEPT

    @max_accept.setter
    def max_accept(self, _value: int) -> None:
        pass


class GeventWorker(JSONErrors, ggevent.GeventWorker):
    """gunicorn's gevent worker (GUNICORN_WORKER_CLASS=gevent, the default), its own errors in JSON.

    With more than one worker, gunicorn has each accept one connection per turn of gevent's loop, so that
    workers sharing one socket take turns. With a socket per worker (reuse_port) the kernel already spreads
    connections, and that cap only left them waiting: a turn of the loop takes tens of milliseconds while
    100 turns stream, and 65-103 connections queued in each socket's backlog, resumes waiting 3.3-3.8 s
    (p50) for their accept (docs/performance.md, "Turns that outlive their connection"). Every waiting connection is
    accepted instead (gevent's own default, up to 100 per turn)."""

    def run(self):
        if self.cfg.reuse_port:
            # gunicorn builds its servers and caps them inside run(), out of reach: in this worker process the
            # class it builds them from is ours.
            ggevent.StreamServer = _AcceptEveryWaiting
        super().run()


class SyncWorker(JSONErrors, sync.SyncWorker):
    """gunicorn's sync worker (GUNICORN_WORKER_CLASS=sync), its own errors in JSON."""


class ThreadWorker(JSONErrors, gthread.ThreadWorker):
    """gunicorn's gthread worker (GUNICORN_WORKER_CLASS=gthread), its own errors in JSON."""
