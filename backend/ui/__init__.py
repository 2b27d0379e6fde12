"""The operator console at /console: pages rendered on the server from the same services as the API, for reading
conversations and for exporting and erasing an owner's data (docs/console.md)."""

from __future__ import annotations

import flask

from backend.settings import Config

EXTENSION_KEY = "session_store_console"


def init_app(app: flask.Flask, config: Config) -> None:
    """Serve the console on `app`: its sign-in keys, its pages, its live endpoints and its static files."""
    from backend.ui import guard, live, owners, pages, search, signin  # noqa: F401 - their routes and hooks
    from backend.ui.blueprint import bp
    from backend.ui.cookies import ConsoleKeys

    app.extensions[EXTENSION_KEY] = ConsoleKeys(config)
    app.register_blueprint(bp)
