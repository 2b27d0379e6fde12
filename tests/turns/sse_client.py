"""A client of streamed turns over a real socket: reads events as they arrive, may leave at any point."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

from backend.services.turns.sse_reader import read_events


class StreamedChat:
    """POST a turn with Accept: text/event-stream; iterate (event, data, monotonic arrival time)."""

    def __init__(self, base_url: str, body: dict, route: str = "/api/v1/chat", timeout_s: float = 15):
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
        self.connection.request(
            "POST",
            route,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())

    def __iter__(self):
        try:
            for name, data in read_events(self.response):
                yield name, data, time.monotonic()
        finally:
            self.leave()

    def leave(self) -> None:
        """Close the connection, as a client that barges in or closes its tab does."""
        self.response.close()
        self.connection.close()
