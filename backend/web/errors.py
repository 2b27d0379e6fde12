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
    SessionStoreError,
    StoreFull,
    StoreUnavailable,
    TurnInProgress,
    TurnMovedOn,
    TurnNotFound,
)
from backend.web.observability import redacted, route_template

log = logging.getLogger(__name__)

# webargs names where a problem was found; a whole-body problem (`_schema`) is reported as that place.
_LOCATION_NAMES = {"json": "body", "query": "query", "view_args": "path"}


def error_response(code: int, message: str, errors: dict | None = None, headers: dict | None = None):
    """The JSON body of an error; `errors` maps each offending field to its problems. Its cause is logged."""
    if code != 500:  # a 500 is logged with its trace where it is caught
        _log_cause(code, message, errors)
    return flask.jsonify(error_body(code, message, errors)), code, headers or {}


def error_body(code: int, message: str, errors: dict | None = None) -> dict[str, Any]:
    """{code, status, message, errors?}: what every error says, as a JSON response or an SSE `error` event."""
    body: dict[str, Any] = {"code": code, "status": _status_name(code), "message": message}
    if errors:
        body["errors"] = errors
    return body


def _log_cause(code: int, message: str, errors: dict | None) -> None:
    # The client's mistakes at INFO; refused credentials at WARNING (someone may be probing);
    # an agent or database that failed us at WARNING / ERROR. The request id comes with the record.
    level = (
        logging.ERROR if code >= 500 and code != 502 else logging.WARNING if code in (401, 403, 502) else logging.INFO
    )
    detail = str(InvalidInput(errors)).partition(": ")[2] if errors else ""
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


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str] | dict]:
    """{field: [problems]} from marshmallow's nested errors; nested fields as dotted names (audio.format), the
    items of a list by their index, as the service names them ({"messages": {"2": {"content": [...]}}})."""
    flat: dict[str, list[str] | dict] = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and all(isinstance(index, int) for index in value):
            flat[name] = {
                str(index): flatten_errors(item) if isinstance(item, dict) else item for index, item in value.items()
            }
        elif isinstance(value, dict):
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


def describe(error: Exception) -> tuple[int, str, dict | None, dict]:
    """Status, message, field errors and headers of a domain error: the one map of domain errors to HTTP,
    for JSON responses and SSE `error` events alike; anything unknown is a bare 500."""
    match error:
        case SessionNotFound():
            return 404, "session not found", None, {}
        case TurnNotFound():
            return 404, str(error), None, {}
        case TurnMovedOn():
            return 409, str(error), None, {}
        case InvalidInput():  # values the service refused, named field by field as schema errors are
            return 422, "invalid " + ", ".join(sorted(error.errors)), error.errors, {}
        case IdempotencyKeyReused():  # the key came with a different request the first time (IETF draft)
            return 422, str(error), {"idempotency_key": [str(error)]}, {}
        case StoreFull():  # a write refused for lack of disk space; reads still work
            return 507, error.reason, None, {"Retry-After": "30"}
        case StoreUnavailable():  # the database cannot serve now; the client may retry
            return 503, error.reason, None, {"Retry-After": "5"}
        case RequestInFlight() | TurnInProgress() | AgentsBusy():
            status = 503 if isinstance(error, AgentsBusy) else 409
            return status, str(error), None, {"Retry-After": str(error.retry_after_s)}
        case ReservationLost():  # this attempt outlived its reservation and a retry took over
            return 409, str(error), None, {"Retry-After": "1"}
        case PreconditionFailed():  # If-Match named a stale ETag
            return 412, str(error), None, {"ETag": f'"{error.current_etag}"'}
        case AgentFailed():  # the user's message is stored
            return 502, f"the agent failed: {error.reason}; the message was stored", None, {}
    return 500, "internal server error", None, {}


def handle_domain_error(error: SessionStoreError | AgentFailed):
    """A domain error as its JSON answer (describe); a full disk is also logged for the operator."""
    if isinstance(error, StoreFull):
        log.error("write refused on %s %s: %s", flask.request.method, route_template(), error.reason)
    return error_response(*describe(error))


def handle_unexpected(error: Exception):
    """Anything else: logged with its trace here, a bare 500 for the client."""
    log.exception("unexpected error on %s %s", flask.request.method, route_template())
    return error_response(500, "internal server error")


def register_error_handlers(app: flask.Flask) -> None:
    """Map domain errors and every HTTP error to JSON (replacing flask-smorest's HTTP error handler)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(SessionStoreError, handle_domain_error)
    app.register_error_handler(AgentFailed, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
