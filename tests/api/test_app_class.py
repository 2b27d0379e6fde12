"""The app's Flask class: its cache of which functions are coroutines holds the app's functions only."""

from __future__ import annotations

import gc

import flask

from backend.web.app import SessionStoreFlask


def test_functions_made_per_request_leave_the_cache_with_their_request():
    app = SessionStoreFlask(__name__)

    @app.route("/")
    def view():
        @flask.after_this_request
        def each_request(response):
            return response

        return "ok"

    client = app.test_client()
    for _ in range(100):
        assert client.get("/").status_code == 200
    gc.collect()
    assert list(app._coroutine_functions) == [view]
