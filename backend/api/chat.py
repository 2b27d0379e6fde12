"""Text chat: store the user's message, ask the agent, store and return its reply."""

from __future__ import annotations

from flask_smorest.error_handler import ErrorSchema

from backend.api.auth import owner_scope
from backend.api.blueprint import Blueprint
from backend.api.preconditions import RETRY_AFTER_HEADER
from backend.extensions import services
from backend.schemas.headers import IdempotencyHeaders
from backend.schemas.chat import ChatRequestSchema, ChatResponseSchema

blp = Blueprint("chat", __name__, url_prefix="/api/v1", description="Conversation with the agent")


@blp.route("/chat", methods=["POST"])
@blp.arguments(ChatRequestSchema)
@blp.arguments(IdempotencyHeaders, location="headers")
@blp.alt_response(409, schema=ErrorSchema, headers=RETRY_AFTER_HEADER,
                  description="Another turn is in progress on this session, or this Idempotency-Key's request is (Retry-After)")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(502, response="BAD_GATEWAY")
@blp.alt_response(507, schema=ErrorSchema, headers=RETRY_AFTER_HEADER, description="The database's disk is full: nothing was stored")
@blp.response(200, ChatResponseSchema)
def chat(body, headers):
    """Send a message and get the agent's reply; 502 when the agent fails (the message stays stored)."""
    return services().chat.chat(
        body["session_id"], body["message"], body.get("metadata"),
        owner=owner_scope(), idempotency_key=headers.get("idempotency_key"),
    )
