"""Per request: the request id (X-Request-ID), one access line, the request metrics; and GET /metrics for operators."""

from __future__ import annotations

import logging
import os
import re
import time

import flask

from backend.context import request_id
from backend.observability.logs import FrequentLine, install_request_id, session_ref, skip_unused_record_fields
from backend.observability.metrics import exposition, record_request
from backend.web.auth import require_operator

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only when it is short and plain: it goes into every log line.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")

# A WSGI middleware that refuses a request before the app runs (backend.web.slow_clients' 408) leaves (status,
# message) under this key, and the app answers it as soon as the request has its id: the refusal gets its access
# line and its count like any answer. A lookup here rather than a hook of its own, which cost 8,400 instructions
# on every request (callgrind, /healthz).
REFUSED_BEFORE_THE_APP = "session_store.refused"

access_log = logging.getLogger("backend.access")
_ACCESS_LINE = FrequentLine(
    access_log,
    logging.INFO,
    "%s %s %s %.1f ms session_id=%s",
    ("event", "route", "method", "status", "duration_ms", "session_id"),
)
blp = flask.Blueprint("metrics", __name__)


def new_request_id() -> str:
    """A fresh request id: 16 random bytes, hex."""
    return os.urandom(16).hex()  # secrets.token_hex(16), without its two layers of calls


def request_id_for(given: str | None) -> str:
    """The request id of a request that sent `given` as its X-Request-ID: that one when short and plain, else new."""
    return given if given and _CLIENT_ID.fullmatch(given) else new_request_id()


def _start() -> None:
    # The request object once (every flask.request or flask.g access is a context lookup: 50 of them cost 4% of a
    # POST), and what the request's end needs kept on it: its id, the id's reset token, its start.
    request = flask.request._get_current_object()
    environ = request.environ
    rid = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
    request.session_store_observed = (rid, request_id.set(rid), time.perf_counter())
    refused = environ.get(REFUSED_BEFORE_THE_APP)
    if refused is not None:
        flask.abort(*refused)


def redacted(text: str) -> str:
    """`text` with the current request's session id, if any, replaced by its reference (session_ref)."""
    session_id = request_session_id()
    return text.replace(session_id, session_ref(session_id)) if session_id else text


def request_session_id(request: flask.Request | None = None) -> str | None:
    """The session id the current request (or `request`) names: in its path, or in its JSON body as the view's
    parser read it (web.blueprint.BodyParser notes it; no body is parsed again here)."""
    request = request if request is not None else flask.request._get_current_object()
    view_args = request.view_args
    if view_args and "session_id" in view_args:
        return view_args["session_id"]
    return getattr(request, "session_store_body_session_id", None)


def route_template(request: flask.Request | None = None) -> str:
    """The current request's (or `request`'s) route as declared ("/api/v1/sessions/<session_id>"), never its path:
    a path may hold a session id, and as a metric label it would have unbounded values."""
    rule = (request if request is not None else flask.request).url_rule
    return rule.rule if rule is not None else "unmatched"


def _finish(response: flask.Response) -> flask.Response:
    request = flask.request._get_current_object()
    observed = getattr(request, "session_store_observed", None)
    if observed is None:  # a request that failed before before_request ran
        return response
    rid, _token, started = observed
    response.headers[REQUEST_ID_HEADER] = rid
    seconds = time.perf_counter() - started
    answered(route_template(request), request.method, response.status_code, seconds, request_session_id(request))
    return response


def answered(route: str, method: str, status: int, seconds: float, session_id: str | None = None) -> None:
    """One request answered: counted, and its access line written (with the current request id)."""
    record_request(route, method, status, seconds)
    session = session_ref(session_id)
    _ACCESS_LINE.log(
        (method, route, status, seconds * 1000, session),
        ("access", route, method, status, round(seconds * 1000, 2), None if session == "-" else session),
    )


def _end(_exc: BaseException | None) -> None:
    observed = getattr(flask.request._get_current_object(), "session_store_observed", None)
    if observed is not None:
        request_id.reset(observed[1])


@blp.get("/metrics")
def metrics():
    """Prometheus metrics, added up across workers; operators only (404 when no credential is configured)."""
    require_operator()
    body, content_type = exposition()
    return flask.Response(body, content_type=content_type)


def init_app(app: flask.Flask) -> None:
    """Request ids, access lines and request metrics for every request of `app`; /metrics."""
    install_request_id()
    skip_unused_record_fields()
    # First of all before_request hooks, whenever this is called: a request that another hook refuses (401,
    # 429, the rate limiter's 503, a path of leading slashes) still gets its id, its access line and its count.
    # Registered in order, 312 refused requests in jwt mode had left 0 log lines.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.register_blueprint(blp)
