"""A client of streamed turns over a real socket: reads events as they arrive, may leave at any point."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit


class StreamedChat:
    """POST a turn with Accept: text/event-stream (or, with body None, GET `route`: a turn's events);
    iterate (event, data, monotonic arrival time); `ids` collects each event's `id:`."""

    def __init__(
        self, base_url: str, body: dict | None, route: str = "/api/v1/chat", timeout_s: float = 15, headers=None
    ):
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
        sent = {"Accept": "text/event-stream", **(headers or {})}
        if body is None:
            self.connection.request("GET", route, headers=sent)
        else:
            sent["Content-Type"] = "application/json"
            self.connection.request("POST", route, body=json.dumps(body), headers=sent)
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self.ids: list[int] = []  # each event's `id:`, in order

    def __iter__(self):
        buffer = b""
        try:
            while data := self.response.read1(65536):
                buffer += data
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
                    if "id" in fields:
                        self.ids.append(int(fields["id"]))
                    yield fields.get("event", "message"), json.loads(fields["data"]), time.monotonic()
        finally:
            self.leave()

    def leave(self) -> None:
        """Close the connection, as a client that barges in or closes its tab does."""
        self.response.close()
        self.connection.close()
