"""A tiny real HTTP agent on loopback that misbehaves on purpose: hangs, or drops the connection mid-answer."""

from __future__ import annotations

import threading

from tests.loopback import LoopbackServer, QuietHandler


class MisbehavingAgent:
    """Serves POST on 127.0.0.1:<port>; `mode` is 'hang' (never answers until closed) or 'drop' (closes mid-answer)."""

    def __init__(self, mode: str, hang_limit_s: float = 15.0):
        release = self.release = threading.Event()
        self.calls = 0
        agent = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                agent.calls += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if mode == "hang":
                    release.wait(hang_limit_s)
                    self.close_connection = True
                    return
                # Start an answer, then vanish: a status line and half a header, no body.
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: applic")
                self.wfile.flush()
                self.close_connection = True

        self.loopback = LoopbackServer(Handler, "/agent")
        self.url = self.loopback.url

    def close(self) -> None:
        """Release hung handlers and stop serving."""
        self.release.set()
        self.loopback.close()
