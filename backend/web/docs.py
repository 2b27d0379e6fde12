"""The OpenAPI document as this configuration serves it, and browsable docs at /api/v1/docs with local assets."""

from __future__ import annotations

import re

import flask
import swagger_ui_bundle

DOCS_SETTINGS = {
    # flask-smorest renders Swagger UI at OPENAPI_URL_PREFIX + this path...
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    # ...loading its scripts and styles from here: files of the installed swagger-ui-bundle
    # package, served by this app (a deployment may have no internet, and no CDN is trusted).
    "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/assets/",
}
_ASSETS = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
)
OPERATOR_ONLY = "session_store_operator_only"  # set on a view by backend.web.auth.listing_access

blp = flask.Blueprint("docs_assets", __name__)


@blp.get("/api/v1/docs/assets/<name>")
def asset(name: str):
    """One file of Swagger UI, from the installed package."""
    if name not in _ASSETS:
        flask.abort(404)
    return flask.send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=86400)


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def hide_unavailable_operations(api, app: flask.Flask) -> None:
    """Remove from the OpenAPI document the operations this configuration does not serve.

    Operator-only operations exist only when an operator credential is configured; without one
    they answer 404, so the document must not list them.
    """
    if app.config.get("ADMIN_TOKEN") or app.config.get("AUTH_MODE") == "jwt":
        return  # an operator credential exists (jwt: a token's scope), and jwt mode lists for everyone
    paths = api.spec._paths  # apispec keeps the document's paths here; no public way to drop one
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        view_class = getattr(view, "view_class", None)
        for method in rule.methods or ():
            handler = getattr(view_class, method.lower(), None) if view_class is not None else view
            if getattr(handler, OPERATOR_ONLY, False):
                operations = paths.get(_openapi_path(rule.rule), {})
                operations.pop(method.lower(), None)
                if not set(operations) - {"parameters", "summary", "description"}:
                    paths.pop(_openapi_path(rule.rule), None)


def init_app(app: flask.Flask, api) -> None:
    """Serve the docs' assets and trim the document to what this app serves."""
    app.register_blueprint(blp)
    hide_unavailable_operations(api, app)
