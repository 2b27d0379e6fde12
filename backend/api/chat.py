"""Text chat: store the user's message, ask the agent, store and return its reply (JSON, or streamed as SSE)."""

from __future__ import annotations

import flask
from flask_smorest.error_handler import ErrorSchema

from backend.extensions import services
from backend.schemas.chat import ChatRequestSchema, ChatResponseSchema
from backend.schemas.headers import IdempotencyHeaders
from backend.web.auth import owner_scope
from backend.web.blueprint import Blueprint
from backend.web.preconditions import RETRY_AFTER_HEADER
from backend.web.sse import event_stream_response, wants_event_stream

blp = Blueprint("chat", __name__, url_prefix="/api/v1", description="Conversation with the agent")

TURN_RESPONSES = (
    (
        409,
        dict(
            schema=ErrorSchema,
            headers=RETRY_AFTER_HEADER,
            description=(
                "Another turn is in progress on this session, or this Idempotency-Key's request is (Retry-After)"
            ),
        ),
    ),
    (404, dict(response="NOT_FOUND")),
    (502, dict(response="BAD_GATEWAY")),
    (
        503,
        dict(
            schema=ErrorSchema,
            headers=RETRY_AFTER_HEADER,
            description="The worker's agent calls are all in use, or the database is unavailable: nothing was stored",
        ),
    ),
    (
        507,
        dict(
            schema=ErrorSchema,
            headers=RETRY_AFTER_HEADER,
            description="The database's disk is full: nothing was stored",
        ),
    ),
)


def documented_as_turn(blueprint):
    """Decorator: the alternative answers of a turn, in the OpenAPI document."""

    def document(view):
        for status, options in TURN_RESPONSES:
            view = blueprint.alt_response(status, **options)(view)
        return view

    return document


def answer(turn_stream, turn_json, headers: dict, *args):
    """SSE when the client accepts text/event-stream, else one JSON body (the same turn, the same scope and key)."""
    scope = {"owner": owner_scope(), "idempotency_key": headers.get("idempotency_key")}
    if wants_event_stream(flask.request):
        return event_stream_response(turn_stream(*args, **scope))
    return turn_json(*args, **scope)


@blp.route("/chat", methods=["POST"])
@blp.arguments(ChatRequestSchema)
@blp.arguments(IdempotencyHeaders, location="headers")
@documented_as_turn(blp)
@blp.response(200, ChatResponseSchema)
def chat(body, headers):
    """Send a message and get the agent's reply; 502 when the agent fails (the message stays stored),
    503 with Retry-After when the worker's agent calls are all in use (nothing stored).
    With `Accept: text/event-stream`, the turn streams as events message, delta..., done or error."""
    turns = services().chat
    return answer(turns.chat_stream, turns.chat, headers, body["session_id"], body["message"], body.get("metadata"))
