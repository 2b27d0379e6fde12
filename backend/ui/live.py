"""The console's API calls for following a running turn live: which turn runs on a session, and its events."""

from __future__ import annotations

import flask

from backend.extensions import services
from backend.ui.blueprint import bp
from backend.web.sse import event_stream_response


@bp.get("/api/sessions/<path:session_id>/running-turn")
def running_turn(session_id: str):
    """The turn running on the session and where its events are ({"turn_id": null} when none), for the page to
    start following it."""
    state = services().sessions.running_turn(session_id)
    if state is None:
        return flask.jsonify({"turn_id": None, "events_url": None})
    events_url = flask.url_for("console.turn_events", session_id=session_id, turn_id=state.turn_id)
    return flask.jsonify({"turn_id": state.turn_id, "events_url": events_url})


@bp.get("/api/sessions/<path:session_id>/turns/<turn_id>/events")
def turn_events(session_id: str, turn_id: str):
    """The turn's events as Server-Sent Events (after Last-Event-ID, which the browser sends when it reconnects),
    then the live ones until `done` or `error`."""
    after = flask.request.headers.get("Last-Event-ID", type=int)
    return event_stream_response(services().sessions.turn_events(session_id, turn_id, after))
