"""The app's Flask class: its cache of which functions are coroutines stays bounded, whatever the traffic."""

from __future__ import annotations

import flask
import pytest
from flask.views import MethodView
from hypothesis import given, settings
from hypothesis import strategies as st

import backend.web.app as app_module
from backend.web.app import SessionStoreFlask
from backend.web.blueprint import Resource


def test_functions_made_per_request_do_not_grow_the_cache_past_its_bound(monkeypatch):
    monkeypatch.setattr(app_module, "MAX_KNOWN_FUNCTIONS", 50)
    app = SessionStoreFlask(__name__)
    made = []

    @app.route("/")
    def view():
        @flask.after_this_request
        def each_request(response):
            made.append(each_request)
            return response

        return "ok"

    client = app.test_client()
    for _ in range(200):
        assert client.get("/").status_code == 200
    assert len(made) == 200
    assert 0 < len(app._coroutine_functions) <= 50
    assert app._coroutine_functions[view] is False


# Hosts as clients send them: cases, default and other ports, IDN, IPv6, characters werkzeug refuses, none at all.
_HOSTS = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "example.com",
            "Example.COM:80",
            "example.com:443",
            "example.com:8080",
            "bücher.example",
            "BÜCHER.example:8443",
            "[::1]:5000",
            "127.0.0.1",
            "bad host",
            "evil.example/path",
            "a" * 70 + ".example",
        ]
    ),
    st.text(max_size=12),
)
# WSGI strings: text whose bytes are latin-1 (PEP 3333), here UTF-8 bytes of any text, and bytes UTF-8 refuses.
_WSGI_TEXT = st.one_of(
    st.text(max_size=12).map(lambda text: text.encode("utf-8", "surrogatepass").decode("latin-1")),
    st.binary(max_size=6).map(lambda raw: raw.decode("latin-1")),
)


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


_ENVIRON_PARTS = {
    "HTTP_HOST": _HOSTS,
    "SERVER_NAME": _maybe(st.sampled_from(["localhost", "Server.Example", "/run/app.sock", "::1"])),
    "SERVER_PORT": _maybe(st.sampled_from(["80", "443", "8000", "", "x"])),
    "wsgi.url_scheme": st.sampled_from(["http", "https"]),
    "REQUEST_METHOD": st.sampled_from(["GET", "POST", "PUT"]),
    "SCRIPT_NAME": _maybe(st.sampled_from(["", "/app", "/app/"]) | _WSGI_TEXT),
    "PATH_INFO": _maybe(st.sampled_from(["/", "/healthz", "/api/v1/sessions/abc/messages", "//x"]) | _WSGI_TEXT),
    "QUERY_STRING": _maybe(st.sampled_from(["", "limit=50", "a=1&a=2"]) | _WSGI_TEXT),
    "HTTP_CONNECTION": _maybe(st.sampled_from(["keep-alive", "Upgrade", "keep-alive, upgrade", "close"])),
    "HTTP_UPGRADE": _maybe(st.sampled_from(["websocket", "WebSocket", "h2c"])),
}
_ENVIRON_CHANGES = st.fixed_dictionaries({}, optional=_ENVIRON_PARTS)


@st.composite
def _environs(draw):
    """Requests that share parts of their environ: the first one's, each of the others with a few parts changed
    (a part changed to None is left out), so that two requests often differ only in one part of their host."""
    required = ("wsgi.url_scheme", "REQUEST_METHOD")  # werkzeug reads them as environ[...]
    first = draw(
        st.fixed_dictionaries(
            {name: _ENVIRON_PARTS[name] for name in required},
            optional={name: part for name, part in _ENVIRON_PARTS.items() if name not in required},
        )
    )
    environs = [first, *({**first, **changes} for changes in draw(st.lists(_ENVIRON_CHANGES, max_size=5)))]
    return [{name: value for name, value in environ.items() if value is not None} for environ in environs]


def _bound(app: flask.Flask, create, environ: dict):
    """What `create` (a create_url_adapter) makes of a request of `environ`: the adapter's fields and request.host,
    or the exception it raises."""
    request = app.request_class(dict(environ))
    try:
        adapter = create(request)
    except Exception as error:  # noqa: BLE001 - the same refusal is the expected answer
        return type(error), str(error)
    fields = ("server_name", "script_name", "subdomain", "url_scheme", "path_info", "default_method", "query_args")
    return {name: getattr(adapter, name) for name in (*fields, "websocket")}, request.host


@settings(max_examples=400, deadline=None)
@given(environs=_environs())
def test_a_kept_host_binds_every_request_as_flask_binds_it(environs):
    app = SessionStoreFlask(__name__)
    for environ in environs * 2:  # the second time through, every host part is kept
        ours = _bound(app, app.create_url_adapter, environ)
        flasks = _bound(app, lambda request: flask.Flask.create_url_adapter(app, request), environ)
        assert ours == flasks, environ


def test_the_host_is_kept_only_where_configuration_does_not_check_it(monkeypatch):
    monkeypatch.setattr(app_module, "MAX_KNOWN_HOSTS", 3)
    app = SessionStoreFlask(__name__)
    client = app.test_client()

    @app.route("/where")
    def where():
        return flask.request.host

    for number in range(10):
        assert client.get("/where", headers={"Host": f"h{number}.example"}).text == f"h{number}.example"
    assert 0 < len(app._bound_hosts) <= 3
    app.config["TRUSTED_HOSTS"] = ["h1.example"]
    assert client.get("/where", headers={"Host": "h2.example"}).status_code == 400
    assert client.get("/where", headers={"Host": "h1.example"}).text == "h1.example"


def test_a_websocket_upgrade_of_a_kept_host_binds_as_flask_binds_it():
    """An upgrade to a WebSocket binds with the ws scheme (werkzeug matches only WebSocket rules then); the same host
    without it, or upgrading to something else, with http: each is its own host part."""
    app = SessionStoreFlask(__name__)
    plain = {"wsgi.url_scheme": "http", "REQUEST_METHOD": "GET", "HTTP_HOST": "example.com", "PATH_INFO": "/"}
    upgrades = [
        plain,
        {**plain, "HTTP_CONNECTION": "keep-alive, Upgrade", "HTTP_UPGRADE": "websocket"},
        {**plain, "HTTP_CONNECTION": "keep-alive, Upgrade", "HTTP_UPGRADE": "h2c"},
        {**plain, "HTTP_CONNECTION": "keep-alive", "HTTP_UPGRADE": "websocket"},
    ]
    for environ in upgrades * 2:
        ours = _bound(app, app.create_url_adapter, environ)
        assert ours == _bound(app, lambda request: flask.Flask.create_url_adapter(app, request), environ)
    assert [_bound(app, app.create_url_adapter, environ)[0]["url_scheme"] for environ in upgrades] == [
        "http",
        "ws",
        "http",
        "http",
    ]


def _routed(app: flask.Flask, resource: type[MethodView]) -> flask.Flask:
    """`app` with a function view, a view of a `resource` with GET and POST, one with only POST, and a route that
    redirects to its slash."""

    class Item(resource):
        def get(self, item_id):
            return {"got": item_id, "method": flask.request.method}

        def post(self, item_id):
            return {"posted": item_id}, 201

    class OnlyPost(resource):
        def post(self):
            return "posted", 202

    app.add_url_rule("/items/<int:item_id>", view_func=Item.as_view("item"))
    app.add_url_rule("/only-post", view_func=OnlyPost.as_view("only_post"))
    app.add_url_rule("/plain", "plain", view_func=lambda: "plain")
    app.add_url_rule("/folder/", "folder", view_func=lambda: "folder")
    return app


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/items/7"),
        ("HEAD", "/items/7"),
        ("POST", "/items/8"),
        ("OPTIONS", "/items/7"),
        ("DELETE", "/items/7"),
        ("GET", "/items/x"),
        ("GET", "/only-post"),
        ("HEAD", "/only-post"),
        ("OPTIONS", "/only-post"),
        ("POST", "/only-post"),
        ("GET", "/plain"),
        ("HEAD", "/plain"),
        ("OPTIONS", "/plain"),
        ("PUT", "/plain"),
        ("GET", "/folder"),
        ("GET", "/nowhere"),
    ],
)
def test_requests_are_dispatched_as_flask_dispatches_them(method, path):
    class FlasksResource(MethodView):
        init_every_request = False

    """The app's dispatch (and its resources') reads the request once; every answer is Flask's own, byte for byte:
    a view, GET's view for a HEAD, the automatic OPTIONS, 404, 405 with its Allow, the redirect to a slash."""
    client = _routed(SessionStoreFlask(__name__), Resource).test_client()
    flasks = _routed(flask.Flask(__name__), FlasksResource).test_client().open(path, method=method)
    for _ in range(2):  # the second time through, the host is kept
        ours = client.open(path, method=method)
        assert (ours.status, sorted(ours.headers.items()), ours.data) == (
            flasks.status,
            sorted(flasks.headers.items()),
            flasks.data,
        )
    assert ours.status_code in {200, 201, 202, 308, 404, 405}


def test_a_request_limit_of_its_own_or_the_apps_bounds_the_body():
    app = SessionStoreFlask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/limited")
    def limited():
        if flask.request.args.get("own"):
            flask.request.max_content_length = 100
        return str(len(flask.request.get_data()))

    client = app.test_client()
    assert client.post("/limited", data=b"x" * 11).status_code == 413
    assert client.post("/limited?own=1", data=b"x" * 50).text == "50"
    with app.test_request_context():
        assert flask.request.max_content_length == 10
    assert SessionStoreFlask.request_class({}).max_content_length is None  # outside an app: werkzeug's default


def test_a_request_that_asks_for_an_upgrade_or_names_a_long_host_is_bound_but_not_kept():
    """A server joins repeated header lines into one value: kept, one request's hundreds of kilobytes would stay."""
    app = SessionStoreFlask(__name__)
    plain = {"wsgi.url_scheme": "http", "REQUEST_METHOD": "GET", "HTTP_HOST": "example.com", "PATH_INFO": "/"}
    refused = [
        {**plain, "HTTP_CONNECTION": "keep-alive, " * 50_000 + "upgrade", "HTTP_UPGRADE": "websocket"},
        {**plain, "HTTP_UPGRADE": "h2c"},
        {**plain, "HTTP_HOST": "a" * 300 + ".example"},
        {**plain, "SCRIPT_NAME": "/" + "s" * 300},
    ]
    for environ in refused * 2:
        ours = _bound(app, app.create_url_adapter, environ)
        assert ours == _bound(app, lambda request: flask.Flask.create_url_adapter(app, request), environ)
    assert app._bound_hosts == {}
    _bound(app, app.create_url_adapter, plain)
    assert len(app._bound_hosts) == 1


def test_a_resource_made_for_every_request_keeps_flasks_view():
    made = []

    class Counted(Resource):
        init_every_request = True

        def __init__(self):
            made.append(self)

        def get(self):
            return str(len(made))

    app = SessionStoreFlask(__name__)
    app.add_url_rule("/counted", view_func=Counted.as_view("counted"))
    client = app.test_client()
    assert [client.get("/counted").text for _ in range(3)] == ["1", "2", "3"]


def test_a_method_routed_to_a_resource_without_its_handler_is_405_with_allow():
    class OnlyPost(Resource):
        def post(self):
            return "posted"

    app = SessionStoreFlask(__name__)
    app.add_url_rule("/only-post", view_func=OnlyPost.as_view("only_post"), methods=["GET", "POST"])
    answer = app.test_client().get("/only-post")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
