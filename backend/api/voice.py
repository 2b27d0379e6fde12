"""Voice: a transcript as the user's message; both messages marked with modality voice."""

from __future__ import annotations

from backend.api.auth import owner_scope
from backend.api.blueprint import Blueprint
from backend.extensions import services
from backend.schemas.chat import ChatResponseSchema, VoiceRequestSchema

blp = Blueprint("voice", __name__, url_prefix="/api/v1", description="Voice turns (transcripts)")


@blp.route("/voice", methods=["POST"])
@blp.arguments(VoiceRequestSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(502, response="BAD_GATEWAY")
@blp.response(200, ChatResponseSchema)
def voice(body):
    """Send a transcript and get the agent's reply; 502 when the agent fails (the transcript stays stored)."""
    return services().chat.voice(
        body["session_id"], body["transcript"], body.get("audio"), body.get("metadata"), owner=owner_scope()
    )
