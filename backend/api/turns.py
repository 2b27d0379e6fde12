"""A turn as a resource: its state, its events (resumed after a dropped connection) and a stop with what was
heard, served by any worker or host."""

from __future__ import annotations

from flask_smorest.error_handler import ErrorSchema

from backend.extensions import services
from backend.schemas.headers import IdempotencyHeaders
from backend.schemas.turns import LastEventHeaders, StopSchema, TurnSchema
from backend.web.auth import owner_scope
from backend.web.blueprint import Blueprint, Resource
from backend.web.sse import EVENT_STREAM, event_stream_response

blp = Blueprint("turns", __name__, url_prefix="/api/v1/sessions", description="Turns of a session")
TURN = "/<session_id>/turns/<turn_id>"


@blp.route(TURN)
class TurnById(Resource):
    """One turn."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, TurnSchema)
    def get(self, session_id, turn_id):
        """The turn's state: running, completed, interrupted or failed, with its user message and reply."""
        return services().sessions.get_turn(session_id, turn_id, owner=owner_scope())


@blp.route(f"{TURN}/events")
class TurnEvents(Resource):
    """The events of one turn."""

    @blp.arguments(LastEventHeaders, location="headers")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(
        200,
        {"type": "string", "description": "SSE: `id:`, `event:` message, delta, done or error, `data:` JSON"},
        content_type=EVENT_STREAM,
        description="The events after Last-Event-ID, then the live ones",
    )
    def get(self, headers, session_id, turn_id):
        """Every event of the turn after `Last-Event-ID` (all without it), then the live ones until `done` or
        `error`, from whichever worker runs the turn; replayable TURN_EVENTS_TTL_S after the turn ended."""
        events = services().sessions.turn_events(session_id, turn_id, headers.get("last_event_id"), owner=owner_scope())
        return event_stream_response(events)


@blp.route(f"{TURN}/stop", methods=["POST"])
@blp.arguments(StopSchema, required=False)
@blp.arguments(IdempotencyHeaders, location="headers")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, schema=ErrorSchema, description="The conversation moved on: the reply is no longer the newest")
@blp.response(200, TurnSchema)
def stop(body, headers, session_id, turn_id):
    """Stop the turn with what the user heard: the reply keeps its first `heard_chars` characters as content, the
    rest as metadata `unheard`, status `interrupted`; on a turn that already ended, its stored reply is cut."""
    return services().sessions.stop_turn(
        session_id,
        turn_id,
        (body or {}).get("heard_chars"),
        owner=owner_scope(),
        idempotency_key=headers.get("idempotency_key"),
    )
