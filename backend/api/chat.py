"""Text chat: store the user's message, ask the agent, store and return its reply."""

from __future__ import annotations

from backend.api.auth import owner_scope
from backend.api.blueprint import Blueprint
from backend.extensions import services
from backend.schemas.chat import ChatRequestSchema, ChatResponseSchema

blp = Blueprint("chat", __name__, url_prefix="/api/v1", description="Conversation with the agent")


@blp.route("/chat", methods=["POST"])
@blp.arguments(ChatRequestSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(502, response="BAD_GATEWAY")
@blp.response(200, ChatResponseSchema)
def chat(body):
    """Send a message and get the agent's reply; 502 when the agent fails (the message stays stored)."""
    return services().chat.chat(body["session_id"], body["message"], body.get("metadata"), owner=owner_scope())
