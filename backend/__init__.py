"""Session store backend: create_app builds the Flask app serving the REST API."""

from __future__ import annotations

# werkzeug encodes each request's server name with the idna codec, which Python imports on first
# use. Imported with the app, so that a worker that dropped privileges after `--preload` (gunicorn
# --user) need not read the interpreter's library to serve its first request.
import encodings.idna  # noqa: F401

import flask

from backend.settings import Config, config_from_env
from backend.web.app import SessionStoreFlask
from backend.web.docs import DOCS_SETTINGS

API_SETTINGS = {
    "API_TITLE": "Session store",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    # Served at exactly /api/v1/openapi.json; browsable at /api/v1/docs (backend.web.docs).
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}


def create_app(config: Config | None = None) -> flask.Flask:
    """The app for `config` (default: the variant APP_ENV names, read from the environment)."""
    config = config if config is not None else config_from_env()
    app = SessionStoreFlask(__name__, static_folder=None)
    # UTF-8 as it is: escaping non-ASCII as \uXXXX tripled the size of emoji-heavy answers.
    app.json.ensure_ascii = False
    # `//` in a path is a 404 like any unknown path, not a redirect to an absolute URL built
    # from the request's Host header. werkzeug matches a path that starts with `//` as if it
    # started with `/`, whatever merge_slashes says: the first hook makes that one unmatched.
    app.url_map.merge_slashes = False
    app.before_request(_unmatched_if_leading_slashes)
    app.config.from_mapping(config.as_flask_config())
    app.config.update(API_SETTINGS)
    if config.AUTH_MODE == "jwt":
        # The OpenAPI document says that every operation needs a bearer token.
        app.config["API_SPEC_OPTIONS"] = {"security": [{"bearerAuth": []}]}
    app.config.update(DOCS_SETTINGS)
    api = register_extensions(app, config)
    register_blueprints(api)
    register_docs(app, api)
    register_console(app, config)
    register_error_handlers(app)
    register_observability(app, config)
    register_commands(app)
    register_middleware(app, config)
    return app


def _unmatched_if_leading_slashes() -> None:
    """A path that starts with `//` matches no route: 404 as any unknown path, with the same hooks before it."""
    request = flask.request._get_current_object()
    if request.environ.get("PATH_INFO", "").startswith("//"):
        from werkzeug.exceptions import NotFound

        request.url_rule, request.view_args, request.routing_exception = None, None, NotFound()


def register_extensions(app: flask.Flask, config: Config):
    """The Api, CORS, the services and access control (authentication, rate limits); returns the Api."""
    from backend.extensions import init_extensions
    from backend.web.auth import init_auth

    api = init_extensions(app, config)
    init_auth(app, config)
    return api


def register_blueprints(api) -> None:
    """Every resource of the API, documented in its OpenAPI document."""
    from backend.api import chat, health, messages, owners, search, sessions, turns

    for blueprint in (sessions.blp, messages.blp, *chat.blueprints, turns.blp, search.blp, owners.blp, health.blp):
        api.register_blueprint(blueprint)


def register_docs(app: flask.Flask, api) -> None:
    """Browsable docs' assets; the OpenAPI document trimmed to the routes this configuration serves."""
    from backend.web.docs import init_app

    init_app(app, api)


def register_console(app: flask.Flask, config: Config) -> None:
    """The operator console at /console (backend.ui): pages, not part of the API nor of its OpenAPI document."""
    from backend.ui import init_app

    init_app(app, config)


def register_error_handlers(app: flask.Flask) -> None:
    """One JSON error shape for domain errors and every HTTP error."""
    from backend.web.errors import register_error_handlers as register

    register(app)


def register_observability(app: flask.Flask, config: Config) -> None:
    """Request ids, access lines and metrics for every request; /metrics for operators. Logs carry session ids
    whole only in jwt mode: in none mode an id is what lets its holder read the session."""
    from backend.observability.logs import log_session_ids_in_full
    from backend.web.observability import init_app

    log_session_ids_in_full(config.AUTH_MODE == "jwt")
    init_app(app)


def register_middleware(app: flask.Flask, config: Config) -> None:
    """Slow clients are cut off (a request's body must arrive within CLIENT_TIMEOUT_S); requests take turns."""
    from backend.web.fairness import TakeTurns
    from backend.web.slow_clients import BodyDeadline

    app.wsgi_app = TakeTurns(BodyDeadline(app.wsgi_app, config.CLIENT_TIMEOUT_S, config.MAX_CONTENT_LENGTH))


def register_commands(app: flask.Flask) -> None:
    """Operator commands: `flask --app wsgi sessions purge|backup|copy-to-postgres|assign-owners`."""
    from backend.cli import sessions_cli

    app.cli.add_command(sessions_cli)
