"""Voice: a transcript as the user's message; both messages marked with modality voice (JSON, or streamed as SSE)."""

from __future__ import annotations

import flask

from backend.api.blueprint import Blueprint
from backend.api.event_stream import event_stream_response, wants_event_stream
from backend.extensions import services
from backend.schemas.chat import ChatResponseSchema, VoiceRequestSchema

blp = Blueprint("voice", __name__, url_prefix="/api/v1", description="Voice turns (transcripts)")


@blp.route("/voice", methods=["POST"])
@blp.arguments(VoiceRequestSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(502, response="BAD_GATEWAY")
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
@blp.response(200, ChatResponseSchema)
def voice(body):
    """Send a transcript and get the agent's reply; 502 when the agent fails (the transcript stays stored),
    503 with Retry-After when the worker's agent calls are all in use (nothing stored).
    With `Accept: text/event-stream`, the turn streams as events message, delta..., done or error."""
    chat_service = services().chat
    args = (body["session_id"], body["transcript"], body.get("audio"), body.get("metadata"))
    if wants_event_stream(flask.request):
        return event_stream_response(chat_service.voice_stream(*args))
    return chat_service.voice(*args)
