"""Session store backend: create_app builds the Flask app serving the REST API."""

from __future__ import annotations

import flask

from backend.settings import Config, config_from_env

API_SETTINGS = {
    "API_TITLE": "Session store",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    # Served at exactly /api/v1/openapi.json; no UI (it would pull scripts from a CDN).
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}


def create_app(config: Config | None = None) -> flask.Flask:
    """The app for `config` (default: the variant APP_ENV names, read from the environment)."""
    config = config if config is not None else config_from_env()
    app = flask.Flask(__name__, static_folder=None)
    app.config.from_mapping(config.as_flask_config())
    app.config.update(API_SETTINGS)
    api = register_extensions(app, config)
    register_blueprints(api)
    register_error_handlers(app)
    register_commands(app)
    register_middleware(app, config)
    return app


def register_extensions(app: flask.Flask, config: Config):
    """The Api, CORS and the services; returns the Api."""
    from backend.extensions import init_extensions

    return init_extensions(app, config)


def register_blueprints(api) -> None:
    """Every resource of the API, documented in its OpenAPI document."""
    from backend.api import chat, health, messages, sessions, voice

    for module in (sessions, messages, chat, voice, health):
        api.register_blueprint(module.blp)


def register_error_handlers(app: flask.Flask) -> None:
    """One JSON error shape for domain errors and every HTTP error."""
    from backend.api.errors import register_error_handlers as register

    register(app)


def register_middleware(app: flask.Flask, config: Config) -> None:
    """Slow clients are cut off (a request's body must arrive within CLIENT_TIMEOUT_S); requests take turns."""
    from backend.api.fairness import TakeTurns
    from backend.api.slow_clients import BodyDeadline

    app.wsgi_app = TakeTurns(BodyDeadline(app.wsgi_app, config.CLIENT_TIMEOUT_S, config.MAX_CONTENT_LENGTH))


def register_commands(app: flask.Flask) -> None:
    """Operator commands: `flask --app wsgi sessions purge|backup|copy-to-postgres`."""
    from backend.cli import sessions_cli

    app.cli.add_command(sessions_cli)
