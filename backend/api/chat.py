"""Conversation turns, text and voice: store the user's message, ask the agent, store and return its reply
(JSON, or streamed as SSE with `Accept: text/event-stream`)."""

from __future__ import annotations

import flask
from flask_smorest.error_handler import ErrorSchema

from backend.extensions import services
from backend.schemas.chat import ChatRequestSchema, ChatResponseSchema, VoiceRequestSchema
from backend.schemas.headers import IdempotencyHeaders
from backend.web.auth import owner_scope
from backend.web.blueprint import Blueprint
from backend.web.preconditions import RETRY_AFTER_HEADER
from backend.web.sse import follow_turn, wants_event_stream

chat_blp = Blueprint("chat", __name__, url_prefix="/api/v1", description="Conversation with the agent")
voice_blp = Blueprint("voice", __name__, url_prefix="/api/v1", description="Voice turns (transcripts)")
blueprints = (chat_blp, voice_blp)

_NOTHING_STORED = "The database's disk is full: nothing was stored"
TURN_RESPONSES = (
    (
        409,
        dict(
            schema=ErrorSchema,
            headers=RETRY_AFTER_HEADER,
            description="Another turn is in progress on this session, or this Idempotency-Key's request is "
            "(Retry-After)",
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
    (507, dict(schema=ErrorSchema, headers=RETRY_AFTER_HEADER, description=_NOTHING_STORED)),
)


def turn_route(blueprint: Blueprint, path: str, request_schema):
    """Decorator: a POST that runs one turn, with its body, its Idempotency-Key and every answer documented."""

    def register(view):
        view = blueprint.response(200, ChatResponseSchema)(view)
        for status, options in TURN_RESPONSES:
            view = blueprint.alt_response(status, **options)(view)
        view = blueprint.arguments(IdempotencyHeaders, location="headers")(view)
        view = blueprint.arguments(request_schema)(view)
        return blueprint.route(path, methods=["POST"])(view)

    return register


def answer(turn_stream, turn_json, body: dict, headers: dict, *args):
    """SSE when the client accepts text/event-stream, else one JSON body (the same turn, the same scope and key).
    A streaming client that disconnects leaves the turn running unless its body says on_disconnect "stop"."""
    scope = {"owner": owner_scope(), "idempotency_key": headers.get("idempotency_key")}
    if wants_event_stream(flask.request):
        return follow_turn(turn_stream(*args, **scope), body.get("on_disconnect", "continue"))
    return turn_json(*args, **scope)


@turn_route(chat_blp, "/chat", ChatRequestSchema)
def chat(body, headers):
    """Send a message and get the agent's reply; 502 when the agent fails (the message stays stored),
    503 with Retry-After when the worker's agent calls are all in use (nothing stored).
    With `Accept: text/event-stream`, the turn streams as events message, delta..., done or error, each with
    its `id:`; a client that disconnects can resume at GET .../turns/{turn_id}/events."""
    turns = services().chat
    args = (body["session_id"], body["message"], body.get("metadata"))
    return answer(turns.chat_stream, turns.chat, body, headers, *args)


@turn_route(voice_blp, "/voice", VoiceRequestSchema)
def voice(body, headers):
    """Send a transcript and get the agent's reply; 502 when the agent fails (the transcript stays stored),
    503 with Retry-After when the worker's agent calls are all in use (nothing stored).
    With `Accept: text/event-stream`, the turn streams as events message, delta..., done or error."""
    turns = services().chat
    args = (body["session_id"], body["transcript"], body.get("audio"), body.get("metadata"))
    return answer(turns.voice_stream, turns.voice, body, headers, *args)
