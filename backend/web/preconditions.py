"""HTTP conditional requests on sessions: ETag out, If-Match / If-None-Match in (parsed by werkzeug)."""

from __future__ import annotations

import flask

from backend.services.etags import session_etag
from backend.store.records import SessionRecord

RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
ETAG_HEADER = {
    "ETag": {
        "description": "Changes whenever the session's metadata or device fingerprint changes",
        "schema": {"type": "string"},
    }
}


def with_etag(session: SessionRecord, status: int | None = None):
    """A view's return value: the session, its status, and its ETag header."""
    headers = {"ETag": f'"{session_etag(session)}"'}
    return (session, status, headers) if status is not None else (session, headers)


def if_match() -> list[str] | None:
    """The tags of If-Match ("*" for any), None without the header; weak tags never match (RFC 9110)."""
    if "If-Match" not in flask.request.headers:
        return None
    tags = flask.request.if_match
    # A malformed header parses to no tag at all (or None): it names no current version, so 412.
    return ["*"] if tags.star_tag else sorted(tag for tag in tags.as_set() if tag)


def not_modified(session: SessionRecord) -> flask.Response | None:
    """304 when If-None-Match names the session's current ETag (weak comparison), else None."""
    tags = flask.request.if_none_match
    if not tags or not tags.contains_weak(session_etag(session)):
        return None
    response = flask.Response(status=304)
    response.headers["ETag"] = f'"{session_etag(session)}"'
    return response
