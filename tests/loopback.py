"""A tiny real HTTP server on a free loopback port: the stand-in for anything outside (an agent, an identity
provider)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # 200 concurrent turns connect at once; the default backlog of 5 drops SYNs


class LoopbackServer:
    """Serves `handler` (a BaseHTTPRequestHandler class) on 127.0.0.1 in daemon threads; `url` ends in `path`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], path: str = ""):
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.base_url + path
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing and answers JSON with answer_json()."""

    # http.server writes the headers and the body in two sends: with Nagle's algorithm on, the body
    # waited for the client's delayed ACK, and every answer took 44 ms on loopback.
    disable_nagle_algorithm = True

    def answer_json(self, value, status: int = 200) -> None:
        """Send `value` as a JSON body."""
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
