"""The console's one blueprint: every route under /console, its templates and its static files (no CDN: a browser
next to the server may have no internet)."""

from __future__ import annotations

import flask

bp = flask.Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

#: Console paths answered as JSON (or an event stream) for the page's own scripts, never as a page.
API_PREFIX = "/console/api/"


def is_api_request() -> bool:
    """Whether the current request is one of the console's API calls (answered in JSON, 401 without sign-in)."""
    return flask.request.path.startswith(API_PREFIX)
