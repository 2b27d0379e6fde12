"""Sessions: get-or-create, read, update, delete, stats, and the operator listing."""

from __future__ import annotations

from flask_smorest.error_handler import ErrorSchema

from backend.extensions import services
from backend.schemas.headers import IdempotencyHeaders, IfMatchHeaders, IfNoneMatchHeaders
from backend.schemas.sessions import (
    SessionCreateSchema,
    SessionListArgsSchema,
    SessionPageSchema,
    SessionSchema,
    SessionStatsSchema,
    SessionUpdateSchema,
)
from backend.web.auth import current_caller, listing_access, owner_scope
from backend.web.blueprint import Blueprint, Resource
from backend.web.preconditions import ETAG_HEADER, RETRY_AFTER_HEADER, if_match, not_modified, with_etag

blp = Blueprint("sessions", __name__, url_prefix="/api/v1/sessions", description="Sessions")


@blp.route("")
class Sessions(Resource):
    """The collection of sessions."""

    @blp.doc(security=[{"bearerAuth": []}])
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, SessionPageSchema)
    @listing_access
    @blp.arguments(SessionListArgsSchema, location="query")
    def get(self, args):
        """List the caller's sessions (an operator's: every session, `owner` filters), most recently active first."""
        scope, wanted = owner_scope(), args.get("owner")
        if scope is not None and wanted not in (None, scope):
            return {"sessions": [], "next_cursor": None}  # another owner's sessions: as if there were none
        return services().sessions.list_sessions(
            limit=args["limit"],
            cursor=args.get("cursor"),
            device_fingerprint=args.get("device_fingerprint"),
            owner=scope if scope is not None else wanted,
        )

    @blp.arguments(SessionCreateSchema)
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.alt_response(200, schema=SessionSchema, description="The session existed", success=True, headers=ETAG_HEADER)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        headers=RETRY_AFTER_HEADER,
        description="A request with this Idempotency-Key is in progress (Retry-After)",
    )
    @blp.alt_response(
        507,
        schema=ErrorSchema,
        headers=RETRY_AFTER_HEADER,
        description="The database's disk is full: nothing was stored",
    )
    @blp.response(201, SessionSchema, description="The session was created", headers=ETAG_HEADER)
    def post(self, body, headers):
        """Get or create a session (jwt mode: created with a generated id; a given id reopens one's own);
        with Idempotency-Key, a repeat answers as the first request did."""
        caller = current_caller()
        record, created = services().sessions.open_session(
            body.get("session_id"),
            body.get("metadata"),
            body.get("device_fingerprint"),
            owner=None if caller.operator and body.get("session_id") else caller.owner,
            idempotency_key=headers.get("idempotency_key"),
        )
        return with_etag(record, 201 if created else 200)


@blp.route("/<session_id>")
class SessionById(Resource):
    """One session."""

    @blp.arguments(IfNoneMatchHeaders, location="headers")
    @blp.alt_response(304, description="Not Modified: If-None-Match names the current ETag", headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, SessionSchema, headers=ETAG_HEADER)
    def get(self, _headers, session_id):
        """Read a session (304 when If-None-Match names its current ETag)."""
        record = services().sessions.get_session(session_id, owner=owner_scope())
        return not_modified(record) or with_etag(record)

    @blp.arguments(SessionUpdateSchema)
    @blp.arguments(IfMatchHeaders, location="headers")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(412, response="PRECONDITION_FAILED", description="If-Match does not name the current ETag")
    @blp.alt_response(
        507,
        schema=ErrorSchema,
        headers=RETRY_AFTER_HEADER,
        description="The database's disk is full: nothing was stored",
    )
    @blp.response(200, SessionSchema, headers=ETAG_HEADER)
    def patch(self, body, _headers, session_id):
        """Merge metadata into a session (null removes a key) and set its device fingerprint; If-Match makes it
        conditional."""
        # device_fingerprint absent leaves it alone; present and null clears it.
        fingerprint = {"device_fingerprint": body["device_fingerprint"]} if "device_fingerprint" in body else {}
        return with_etag(
            services().sessions.update_session(
                session_id, metadata=body.get("metadata"), owner=owner_scope(), if_match=if_match(), **fingerprint
            )
        )

    @blp.arguments(IfMatchHeaders, location="headers")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(412, response="PRECONDITION_FAILED", description="If-Match does not name the current ETag")
    @blp.alt_response(
        507,
        schema=ErrorSchema,
        headers=RETRY_AFTER_HEADER,
        description="The database's disk is full: nothing was stored",
    )
    @blp.response(204)
    def delete(self, _headers, session_id):
        """Delete a session and all its messages; If-Match makes it conditional."""
        services().sessions.delete_session(session_id, owner=owner_scope(), if_match=if_match())


@blp.route("/<session_id>/stats")
class SessionStats(Resource):
    """Counts and times of one session."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, SessionStatsSchema)
    def get(self, session_id):
        """Counts per role and first and last message times of a session."""
        return services().sessions.get_session_stats(session_id, owner=owner_scope())
