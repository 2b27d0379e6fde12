"""A user's data, whole: export (NDJSON) and erase, by an operator for any owner, or by a user for themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator

import flask
from flask_smorest import abort

from backend.extensions import services
from backend.schemas.owners import ErasedSchema
from backend.web.auth import authenticator, current_caller, require_operator
from backend.web.blueprint import Blueprint, Resource

blp = Blueprint("owners", __name__, url_prefix="/api/v1", description="A user's data: export and erase")
NDJSON = "application/x-ndjson"
EXPORT_RESPONSE = {
    "schema": {
        "type": "string",
        "description": "one JSON record per line: export, session, message, summary, turn, end",
    },
    "content_type": NDJSON,
    "description": 'Every record of the owner, streamed; the last line is {"type": "end", ...counts}',
}


def _operator() -> str:
    require_operator()
    caller = current_caller()
    return f"operator:{caller.owner}" if caller.owner else "operator"


def _me() -> str:
    """The caller's own owner (jwt mode); 404 in none mode, where a request has no owner."""
    if authenticator().mode != "jwt":
        abort(404, message="not found")
    return current_caller().owner


def _ndjson(records: Iterator[dict]) -> flask.Response:
    lines = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records)
    response = flask.Response(lines, mimetype=NDJSON)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/owners/<owner>/export")
class OwnerExport(Resource):
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, **EXPORT_RESPONSE)
    def get(self, owner):
        """Everything stored of `owner` (operators): each session, then its messages, summaries and turns."""
        actor = _operator()
        return _ndjson(services().sessions.export_owner(owner, actor=actor))


@blp.route("/owners/<owner>")
class Owner(Resource):
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ErasedSchema)
    def delete(self, owner):
        """Erase every session of `owner` (operators) with all that hangs off it, for good; the counts."""
        actor = _operator()
        return services().sessions.erase_owner(owner, actor=actor).as_dict()


@blp.route("/me/export")
class MyExport(Resource):
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, **EXPORT_RESPONSE)
    def get(self):
        """Everything stored of the caller (jwt mode): each session, then its messages, summaries and turns."""
        owner = _me()
        return _ndjson(services().sessions.export_owner(owner, actor=f"self:{owner}"))


@blp.route("/me")
class Me(Resource):
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ErasedSchema)
    def delete(self):
        """Erase every session of the caller (jwt mode) with all that hangs off it, for good; the counts."""
        owner = _me()
        return services().sessions.erase_owner(owner, actor=f"self:{owner}").as_dict()
