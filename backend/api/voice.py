"""Voice: a transcript as the user's message; both messages marked with modality voice (JSON, or streamed as SSE)."""

from __future__ import annotations

from backend.api.chat import answer, documented_as_turn
from backend.extensions import services
from backend.schemas.chat import ChatResponseSchema, VoiceRequestSchema
from backend.schemas.headers import IdempotencyHeaders
from backend.web.blueprint import Blueprint

blp = Blueprint("voice", __name__, url_prefix="/api/v1", description="Voice turns (transcripts)")


@blp.route("/voice", methods=["POST"])
@blp.arguments(VoiceRequestSchema)
@blp.arguments(IdempotencyHeaders, location="headers")
@documented_as_turn(blp)
@blp.response(200, ChatResponseSchema)
def voice(body, headers):
    """Send a transcript and get the agent's reply; 502 when the agent fails (the transcript stays stored),
    503 with Retry-After when the worker's agent calls are all in use (nothing stored).
    With `Accept: text/event-stream`, the turn streams as events message, delta..., done or error."""
    turns = services().chat
    args = (body["session_id"], body["transcript"], body.get("audio"), body.get("metadata"))
    return answer(turns.voice_stream, turns.voice, headers, *args)
