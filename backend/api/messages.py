"""Messages of a session: page through history, append, clear."""

from __future__ import annotations

import dataclasses

from flask_smorest.error_handler import ErrorSchema

from backend.extensions import services
from backend.schemas.headers import IdempotencyHeaders, IfMatchHeaders
from backend.schemas.messages import (
    AppendedSchema,
    ContextArgsSchema,
    ContextSchema,
    HistoryArgsSchema,
    HistoryPageSchema,
    MessageCreateSchema,
    RewindSchema,
    RewoundSchema,
    SummaryCreateSchema,
    SummarySchema,
)
from backend.store.records import NewMessage
from backend.web.auth import owner_scope
from backend.web.blueprint import Blueprint, Resource
from backend.web.preconditions import RETRY_AFTER_HEADER, if_match

blp = Blueprint("messages", __name__, url_prefix="/api/v1/sessions", description="Messages of a session")


@blp.route("/<session_id>/messages")
class Messages(Resource):
    """The history of one session."""

    @blp.arguments(HistoryArgsSchema, location="query")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HistoryPageSchema)
    def get(self, args, session_id):
        """The newest `limit` messages before `before` (at most MAX_PAGE_BYTES of them), oldest first, and where the
        page before starts."""
        include_superseded = args.get("include") == "superseded"
        page = services().sessions.get_history_page(
            session_id,
            limit=args["limit"],
            before=args.get("before"),
            owner=owner_scope(),
            include_superseded=include_superseded,
        )
        if include_superseded:  # each message marked, as a dict the dump reads like the record
            marked = [{**dataclasses.asdict(m), "superseded": m.id in page.superseded} for m in page.messages]
            return {"session_id": page.session_id, "messages": marked, "next_before": page.next_before}
        return page

    @blp.arguments(MessageCreateSchema)
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.alt_response(404, response="NOT_FOUND")
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
    @blp.response(201, AppendedSchema)
    def post(self, body, headers, session_id):
        """Append a message, or a batch (`{"messages": [...]}`: all in one transaction, in order, or none); the
        session's count and last_active change with it. Idempotency-Key: stored once (a batch as a whole)."""
        key = headers.get("idempotency_key")
        if "messages" in body:
            news = [NewMessage(session_id=session_id, **item) for item in body["messages"]]
            return services().sessions.append_many(news, owner=owner_scope(), idempotency_key=key)
        new = NewMessage(session_id=session_id, **body)  # the whole value: a new field needs nothing here
        return services().sessions.append(new, owner=owner_scope(), idempotency_key=key)

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(
        507,
        schema=ErrorSchema,
        headers=RETRY_AFTER_HEADER,
        description="The database's disk is full: nothing was stored",
    )
    @blp.response(204)
    def delete(self, session_id):
        """Clear the history; the session stays, its count back to 0."""
        services().sessions.clear_history(session_id, owner=owner_scope())


@blp.route("/<session_id>/context")
@blp.arguments(ContextArgsSchema, location="query")
@blp.alt_response(404, response="NOT_FOUND")
@blp.response(200, ContextSchema)
def context(args, session_id):
    """What an agent sends its model: the newest messages that fit `max_tokens` tokens (counted by TOKENIZER when
    each was written), oldest first, never starting inside a tool exchange; `truncated` when older ones were
    left out."""
    return services().sessions.get_context(session_id, args["max_tokens"], owner=owner_scope())


@blp.route("/<session_id>/summaries", methods=["POST"])
@blp.arguments(SummaryCreateSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.response(201, SummarySchema)
def summarize(body, session_id):
    """Store a summary of the conversation up to and including message `covers_through`: the context window then
    puts the summary that covers most first, and only the messages after it. No message changes."""
    return services().sessions.add_summary(session_id, body["content"], body["covers_through"], owner=owner_scope())


@blp.route("/<session_id>/rewind", methods=["POST"])
@blp.arguments(RewindSchema)
@blp.arguments(IdempotencyHeaders, location="headers")
@blp.arguments(IfMatchHeaders, location="headers")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(
    409,
    schema=ErrorSchema,
    headers=RETRY_AFTER_HEADER,
    description="A turn is running on the session, or a request with this Idempotency-Key is (Retry-After)",
)
@blp.alt_response(412, response="PRECONDITION_FAILED", description="If-Match does not name the current ETag")
@blp.response(200, RewoundSchema)
def rewind(body, idempotency, _conditions, session_id):
    """Take every message after `after_message_id` out of the history and the context: they stay stored as
    superseded (`GET .../messages?include=superseded`). Regenerate: rewind to before the last reply, then a new
    turn; edit: rewind to before a user message, then a new turn with the new text."""
    return services().sessions.rewind(
        session_id,
        body["after_message_id"],
        owner=owner_scope(),
        idempotency_key=idempotency.get("idempotency_key"),
        if_match=if_match(),
    )
