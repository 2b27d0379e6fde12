"""The Flask and request classes of the app: Flask's own, with two per-request answers that depend on few inputs kept
once made (whether a function is a coroutine function, how the request's host binds the URL map), and the request and
app each looked up once where Flask reads them through its context proxies."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import IO, Any

import flask
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import MapAdapter
from werkzeug.utils import cached_property

# Functions made per request (flask.after_this_request) would fill the cache: it starts over past this many.
MAX_KNOWN_FUNCTIONS = 4096
# A client chooses its Host header, so the hosts kept are bounded in number and in size: past this many the cache
# starts over, and a host and script root longer than this together are bound anew every time (a server joins
# repeated header lines: one request may carry hundreds of kilobytes in one of them).
MAX_KNOWN_HOSTS = 256
MAX_KEPT_HOST_CHARS = 256
# What of a WSGI environ Flask's and werkzeug's binding of the URL map reads, but for the path, query and method,
# and for the Connection and Upgrade headers (a request with an Upgrade header is not kept): the scheme, the host
# (Host header, else the server's address), the script's root.
_HOST_KEYS = ("HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")
# A body web.slow_clients has read whole within its deadline, as long as werkzeug reads its Content-Length, left in
# the environ under this key: the request's stream is then the stream of those bytes. This module imports nothing of
# the app's: gunicorn's config imports it in the master, before the metrics' multiprocess directory is set.
BODY_READ = "session_store.body"


class SessionStoreRequest(flask.Request):
    """Flask's request, with what this app notes on a request declared in one place (None until noted)."""

    session_store_observed: tuple | None = None  # (request id, its reset token, start): web.observability
    session_store_body_session_id: str | None = None  # a session id the JSON body named: web.blueprint
    session_store_caller: object | None = None  # who is calling: web.auth

    @cached_property
    def stream(self) -> IO[bytes]:
        """werkzeug's: the body's stream, with its limits. For a body web.slow_clients read whole (BODY_READ), the
        stream of those bytes it left as wsgi.input, checked against this request's limit as werkzeug checks its
        Content-Length: werkzeug's limited stream read them again in Python (47k of a POST's 1.35M instructions)."""
        body = self.environ.get(BODY_READ)
        if body is None or self.shallow:
            return super().stream
        limit = self.max_content_length
        if limit is not None and len(body) > limit:
            raise RequestEntityTooLarge()
        return self.environ["wsgi.input"]

    @property
    def max_content_length(self) -> int | None:
        """Flask's: this request's own limit if set, else the app's MAX_CONTENT_LENGTH, the app looked up once."""
        if self._max_content_length is not None or not flask.has_app_context():
            return super().max_content_length
        return flask.current_app._get_current_object().config["MAX_CONTENT_LENGTH"]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


class SessionStoreFlask(flask.Flask):
    """Flask asks of every hook and view, on every request, whether it is a coroutine function (about 7 times a
    request here, 6% of a POST's CPU in a profile). The answer never changes for a function: it is kept.

    Flask also binds its URL map to every request's environ anew: it reads and checks the host twice, encodes it to
    IDNA and decodes the script root, 43k of /healthz's 535k instructions (callgrind). Their result depends only on
    the environ's host part (_HOST_KEYS) when the request asks for no upgrade, so it is made by Flask once per host
    part and kept; a request then gets an adapter of the kept host and its own path, query and method."""

    request_class = SessionStoreRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A plain dict: a weak-keyed one made a weak reference on every lookup (3% of /healthz's instructions).
        self._coroutine_functions: dict[Callable, bool] = {}
        # {host part of an environ: the MapAdapter's server_name, script_name, subdomain, url_scheme}
        self._bound_hosts: dict[tuple, tuple[str, str, str | None, str]] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        # A view method arrives bound to a new view object per request: it is keyed by its function, so the
        # cache holds one entry per function the app has, whatever the traffic. A plain function is found by
        # itself first (asking it for __func__ would raise and catch an AttributeError: 2k instructions).
        is_coroutine = self._coroutine_functions.get(func)
        if is_coroutine is None:
            key = getattr(func, "__func__", func)
            is_coroutine = self._coroutine_functions.get(key)
        if is_coroutine is None:
            if len(self._coroutine_functions) >= MAX_KNOWN_FUNCTIONS:
                self._coroutine_functions.clear()
            is_coroutine = self._coroutine_functions[key] = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func

    def dispatch_request(self) -> Any:
        # As Flask dispatches (a routing error raised, OPTIONS answered where the rule provides it, else the
        # endpoint's view), with the request looked up once: every attribute read through Flask's context proxies
        # raises and catches an AttributeError before the proxy answers, 7k instructions each (callgrind).
        request = flask.request._get_current_object()
        if request.routing_exception is not None:
            self.raise_routing_exception(request)
        rule = request.url_rule
        if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return self.make_default_options_response()
        return self.ensure_sync(self.view_functions[rule.endpoint])(**request.view_args)

    def create_url_adapter(self, request: flask.Request | None) -> MapAdapter | None:
        # Kept only where the binding is the host's alone: no SERVER_NAME or TRUSTED_HOSTS (each checks the host
        # against configuration, which may change), no host or subdomain matching.
        config = self.config
        if (
            request is None
            or config["SERVER_NAME"] is not None
            or config["TRUSTED_HOSTS"] is not None
            or self.url_map.host_matching
            or self.subdomain_matching
        ):
            return super().create_url_adapter(request)
        environ = request.environ
        key = (environ["wsgi.url_scheme"], *map(environ.get, _HOST_KEYS))
        if "HTTP_UPGRADE" in environ or len(key[1] or "") + len(key[4] or "") > MAX_KEPT_HOST_CHARS:
            return super().create_url_adapter(request)
        bound = self._bound_hosts.get(key)
        if bound is None:
            adapter = super().create_url_adapter(request)  # a host Flask refuses raises here, and is not kept
            if len(self._bound_hosts) >= MAX_KNOWN_HOSTS:
                self._bound_hosts.clear()
            self._bound_hosts[key] = (
                adapter.server_name,
                adapter.script_name,
                adapter.subdomain,
                adapter.url_scheme,
            )
            return adapter
        # Flask also sets request.host here; left unset, werkzeug makes the same value when it is read (with no
        # TRUSTED_HOSTS, a host that binds is a host it answers).
        server_name, script_name, subdomain, url_scheme = bound
        path_info = environ.get("PATH_INFO")
        query = environ.get("QUERY_STRING")
        return MapAdapter(
            self.url_map,
            server_name,
            script_name,
            subdomain,
            url_scheme,
            "/" if path_info is None else _wsgi_text(path_info),
            environ["REQUEST_METHOD"],
            None if query is None else _wsgi_text(query),
        )


def _wsgi_text(value: str) -> str:
    """A WSGI environ string (its bytes as latin-1, PEP 3333) as the text those bytes are in UTF-8, as werkzeug reads
    a path and a query for routing (an invalid byte becomes U+FFFD)."""
    return value.encode("latin-1").decode("utf-8", "replace")
