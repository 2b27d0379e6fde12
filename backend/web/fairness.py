"""Requests of one gevent worker take turns: each yields once before it runs."""

from __future__ import annotations

import time


class TakeTurns:
    """WSGI middleware: `time.sleep(0)` (gevent's yield once gevent has patched it) before each request.

    Under gevent a keep-alive client that sends its next request at once is served without its
    greenlet ever blocking (the request is already in the socket buffer, the answer fits in the send
    buffer), so one busy connection could keep the others waiting for hundreds of milliseconds. One
    yield per request puts every connection's requests in turn. Under threads it is a GIL yield.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        time.sleep(0)
        return self.app(environ, start_response)
