"""Text chat: store the user's message, ask the agent, store and return its reply (JSON, or streamed as SSE)."""

from __future__ import annotations

import flask

from backend.api.blueprint import Blueprint
from backend.api.event_stream import event_stream_response, wants_event_stream
from backend.extensions import services
from backend.schemas.chat import ChatRequestSchema, ChatResponseSchema

blp = Blueprint("chat", __name__, url_prefix="/api/v1", description="Conversation with the agent")


@blp.route("/chat", methods=["POST"])
@blp.arguments(ChatRequestSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(502, response="BAD_GATEWAY")
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
@blp.response(200, ChatResponseSchema)
def chat(body):
    """Send a message and get the agent's reply; 502 when the agent fails (the message stays stored),
    503 with Retry-After when the worker's agent calls are all in use (nothing stored).
    With `Accept: text/event-stream`, the turn streams as events message, delta..., done or error."""
    chat_service = services().chat
    if wants_event_stream(flask.request):
        return event_stream_response(chat_service.chat_stream(body["session_id"], body["message"], body.get("metadata")))
    return chat_service.chat(body["session_id"], body["message"], body.get("metadata"))
