"""One JSON error shape for every failure: {code, status, message, errors?}; never a trace, SQL or path."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import flask
from werkzeug.exceptions import HTTPException, InternalServerError

from backend.services.agents import AgentFailed
from backend.services.errors import (
    AgentsBusy,
    IdempotencyKeyReused,
    InvalidInput,
    PreconditionFailed,
    RequestInFlight,
    ReservationLost,
    SessionNotFound,
    StoreFull,
    StoreUnavailable,
    TurnInProgress,
)
from backend.web.observability import redacted, route_template

log = logging.getLogger(__name__)

# webargs names where a problem was found; a whole-body problem (`_schema`) is reported as that place.
_LOCATION_NAMES = {"json": "body", "query": "query", "view_args": "path"}


def error_response(code: int, message: str, errors: dict | None = None, headers: dict | None = None):
    """The JSON body of an error; `errors` maps each offending field to its problems. Its cause is logged."""
    if code != 500:  # a 500 is logged with its trace where it is caught
        _log_cause(code, message, errors)
    payload: dict[str, Any] = {"code": code, "status": _status_name(code), "message": message}
    if errors:
        payload["errors"] = errors
    return flask.jsonify(payload), code, headers or {}


def _log_cause(code: int, message: str, errors: dict | None) -> None:
    # The client's mistakes at INFO; refused credentials at WARNING (someone may be probing);
    # an agent or database that failed us at WARNING / ERROR. The request id comes with the record.
    level = (
        logging.ERROR if code >= 500 and code != 502 else logging.WARNING if code in (401, 403, 502) else logging.INFO
    )
    detail = "; ".join(f"{field}: {' '.join(problems)}" for field, problems in sorted(errors.items())) if errors else ""
    # A message may quote the session id (a credential in AUTH_MODE=none): logged by its reference.
    log.log(
        level,
        "%s %s%s",
        code,
        redacted(message),
        f" ({redacted(detail)})" if detail else "",
        extra={"event": "error", "status": code, "errors": errors or None},
    )


def _status_name(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """{field: [problems]} from marshmallow's nested errors; nested fields as dotted names (audio.format)."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten_errors(value, name))
        else:
            flat.setdefault(name, []).extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return flat


def _webargs_errors(messages: dict) -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for location, problems in messages.items():
        place = _LOCATION_NAMES.get(location, location)
        if isinstance(problems, dict):
            problems = {(place if k == "_schema" else k): v for k, v in problems.items()}
            flat.update(flatten_errors(problems))
        else:
            flat.setdefault(place, []).extend(map(str, problems))
    return flat


def handle_http_exception(error: HTTPException):
    """Any HTTP error (abort, 404, 405, 413, webargs' 400 and 422) as JSON."""
    data = getattr(error, "data", None) or {}
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    code = error.code or 500
    if code == 400 and "messages" in data:
        return error_response(400, "the request body is not valid JSON", headers=headers)
    if code == 422 and "messages" in data:
        errors = _webargs_errors(data["messages"])
        return error_response(422, "invalid " + ", ".join(sorted(errors)), errors, headers)
    if code == 413:
        limit = flask.current_app.config.get("MAX_CONTENT_LENGTH")
        return error_response(413, f"the request body is larger than {limit} bytes", headers=headers)
    if isinstance(error, InternalServerError):
        log.error("500 %s", error.description, exc_info=getattr(error, "original_exception", None))
        return error_response(500, "internal server error")
    return error_response(code, data.get("message") or error.description or error.name, headers=headers)


def handle_not_found(error: SessionNotFound):
    """A session id that does not exist: 404."""
    return error_response(404, "session not found")


def handle_invalid_input(error: InvalidInput):
    """Values the service refused: 422 naming each field, as schema errors do."""
    return error_response(422, "invalid " + ", ".join(sorted(error.errors)), error.errors)


def handle_store_unavailable(error: StoreUnavailable):
    """The database cannot serve now: 503 with the reason; the client may retry."""
    return error_response(503, error.reason, headers={"Retry-After": "5"})


def handle_store_full(error: StoreFull):
    """A write refused for lack of disk space: 507 naming the cause, logged for the operator; reads still work."""
    log.error("write refused on %s %s: %s", flask.request.method, route_template(), error.reason)
    return error_response(507, error.reason, headers={"Retry-After": "30"})


def handle_key_reused(error: IdempotencyKeyReused):
    """The Idempotency-Key came with a different request the first time: 422 (IETF draft)."""
    return error_response(422, str(error), {"idempotency_key": [str(error)]})


def handle_in_flight(error: RequestInFlight | TurnInProgress):
    """The first request with this key, or another turn on the session, is still running: 409, retry later."""
    return error_response(409, str(error), headers={"Retry-After": str(error.retry_after_s)})


def handle_reservation_lost(error: ReservationLost):
    """This attempt outlived its reservation and a retry took over; nothing of it was kept: 409."""
    return error_response(409, str(error), headers={"Retry-After": "1"})


def handle_precondition_failed(error: PreconditionFailed):
    """If-Match named a stale ETag: 412, with the current one."""
    return error_response(412, str(error), headers={"ETag": f'"{error.current_etag}"'})


def handle_agent_failed(error: AgentFailed):
    """The agent failed or timed out; the user's message is stored: 502."""
    return error_response(502, f"the agent failed: {error.reason}; the message was stored")


def handle_agents_busy(error: AgentsBusy):
    """Every agent slot of this worker is in use; nothing was stored: 503, retry after a moment."""
    return error_response(503, str(error), headers={"Retry-After": str(error.retry_after_s)})


def handle_unexpected(error: Exception):
    """Anything else: logged with its trace here, a bare 500 for the client."""
    log.exception("unexpected error on %s %s", flask.request.method, route_template())
    return error_response(500, "internal server error")


def register_error_handlers(app: flask.Flask) -> None:
    """Map domain errors and every HTTP error to JSON (replacing flask-smorest's HTTP error handler)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(SessionNotFound, handle_not_found)
    app.register_error_handler(InvalidInput, handle_invalid_input)
    app.register_error_handler(StoreUnavailable, handle_store_unavailable)
    app.register_error_handler(StoreFull, handle_store_full)
    app.register_error_handler(IdempotencyKeyReused, handle_key_reused)
    app.register_error_handler(RequestInFlight, handle_in_flight)
    app.register_error_handler(TurnInProgress, handle_in_flight)
    app.register_error_handler(ReservationLost, handle_reservation_lost)
    app.register_error_handler(PreconditionFailed, handle_precondition_failed)
    app.register_error_handler(AgentFailed, handle_agent_failed)
    app.register_error_handler(AgentsBusy, handle_agents_busy)
    app.register_error_handler(Exception, handle_unexpected)
