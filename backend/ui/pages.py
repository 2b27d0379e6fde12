"""The console's reading pages: sessions most recently active first, and one conversation."""

from __future__ import annotations

import flask

from backend.extensions import services
from backend.services.errors import InvalidInput
from backend.ui.blueprint import bp
from backend.ui.guard import page
from backend.ui.rendering import shown_messages

SESSIONS_PER_PAGE = 50
MESSAGES_PER_PAGE = 50


def text_arg(name: str) -> str | None:
    """A query argument as given, None when absent or empty."""
    return flask.request.args.get(name) or None


@bp.get("/")
def sessions():
    """Sessions, most recently active first, filtered by owner or device, a page at a time (keyset cursor)."""
    owner, device, cursor = text_arg("owner"), text_arg("device"), text_arg("cursor")
    filters = {"owner": owner or "", "device": device or ""}
    try:
        found = services().sessions.list_sessions(
            limit=SESSIONS_PER_PAGE, cursor=cursor, device_fingerprint=device, owner=owner
        )
    except InvalidInput as exc:
        return page(422, "sessions.html", sessions=[], next_cursor=None, filters=filters, errors=exc.errors)
    return page(200, "sessions.html", sessions=found.sessions, next_cursor=found.next_cursor, filters=filters)


@bp.get("/sessions/<path:session_id>")
def conversation(session_id: str):
    """One conversation: the session, a page of its messages with each one's status made visible (superseded
    ones included), its summaries, and the turn running on it, if any (the page's script follows it live)."""
    before = flask.request.args.get("before", type=int)
    sessions_service = services().sessions
    session = sessions_service.get_session(session_id)
    history = sessions_service.get_history_page(
        session_id, limit=MESSAGES_PER_PAGE, before=before, include_superseded=True
    )
    summaries = sessions_service.list_summaries(session_id)
    running = sessions_service.running_turn(session_id)
    return page(
        200,
        "conversation.html",
        session=session,
        messages=shown_messages(history.messages, history.superseded, summaries),
        summaries=summaries,
        next_before=history.next_before,
        before=before,
        running=running,
    )


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def not_found(unknown: str):
    """Any other console path: 404, once signed in (the guard answered before, without a sign-in)."""
    flask.abort(404, "no such page in the console")
