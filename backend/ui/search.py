"""The console's search: every message that matches a query, each hit with its snippet (matches highlighted)."""

from __future__ import annotations

import flask

from backend.extensions import services
from backend.services.errors import InvalidInput
from backend.services.validation import ROLES
from backend.ui.blueprint import bp
from backend.ui.guard import page
from backend.ui.pages import text_arg

HITS_PER_PAGE = 20


@bp.get("/search")
def search():
    """The search form; with `q`, a page of hits (filtered by owner, session or role), keyset-paged."""
    query = text_arg("q")
    filters = {name: flask.request.args.get(name, "") for name in ("q", "owner", "session_id", "role")}
    context = {"filters": filters, "roles": ROLES, "hits": [], "next_cursor": None, "searched": query is not None}
    if query is None:
        return page(200, "search.html", **context)
    try:
        found = services().sessions.search(
            query,
            owner=text_arg("owner"),
            session_id=text_arg("session_id"),
            role=text_arg("role"),
            limit=HITS_PER_PAGE,
            cursor=text_arg("cursor"),
        )
    except InvalidInput as exc:  # a query the search cannot read: said on the page, as the API says it
        return page(422, "search.html", **context, errors=exc.errors)
    return page(200, "search.html", **{**context, "hits": found.hits, "next_cursor": found.next_cursor})
