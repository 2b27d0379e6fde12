"""The app's Flask class: its cache of which functions are coroutines stays bounded, whatever the traffic."""

from __future__ import annotations

import flask

import backend.web.app as app_module
from backend.web.app import SessionStoreFlask


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
