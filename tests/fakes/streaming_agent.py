"""A real HTTP agent on loopback that answers slowly, streams Server-Sent Events, or breaks off mid-stream.

Paths: /slow (JSON after `delay_s`), /stream (the chunks as `delta` events, `gap_s` apart, then `done`;
after `hold_after` chunks it waits for `release`), /break (two chunks, then the connection drops).
It records when each chunk was written and whether the client hung up on a stream.
"""

from __future__ import annotations

import json
import threading
import time

from tests.loopback import LoopbackServer, QuietHandler


class StreamingAgent:
    """The agent server; settings may be changed between requests."""

    def __init__(
        self,
        chunks=("Hello", ", ", "world", "!"),
        gap_s: float = 0.0,
        delay_s: float = 1.0,
        hold_after: int | None = None,
    ):
        self.chunks, self.gap_s, self.delay_s, self.hold_after = list(chunks), gap_s, delay_s, hold_after
        self.release = threading.Event()
        self.calls = 0
        self.sent_at: list[float] = []  # monotonic time each chunk was written
        self.hung_up = threading.Event()  # a client stopped reading a stream
        self.hung_up_at: float | None = None  # monotonic time the agent found its client gone
        self.bodies: list[dict] = []  # what each call was asked (the history the agent was given)
        agent = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - the name http.server calls
                agent.calls += 1
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                agent.bodies.append(body)
                if self.path == "/slow":
                    time.sleep(agent.delay_s)
                    payload = json.dumps(
                        {"reply": f"slow: {body['message']['content']}", "metadata": {"agent": "slow"}}
                    )
                    self._send(200, "application/json", payload.encode())
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._stream(self.path == "/break")
                except OSError:
                    agent.hung_up_at = time.monotonic()
                    agent.hung_up.set()
                self.close_connection = True

            def _stream(self, breaks: bool) -> None:
                for index, chunk in enumerate(agent.chunks):
                    if agent.hold_after is not None and index == agent.hold_after:
                        agent.release.wait(30)
                    elif index:
                        time.sleep(agent.gap_s)
                    self._chunk(b"event: delta\ndata: " + json.dumps({"text": chunk}).encode() + b"\n\n")
                    agent.sent_at.append(time.monotonic())
                    if breaks and index == 1:
                        self.wfile.flush()
                        return  # no terminating chunk: the agent died mid-answer
                self._chunk(b'event: done\ndata: {"metadata": {"agent": "streaming"}}\n\n')
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _send(self, status: int, content_type: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.loopback = LoopbackServer(Handler)
        self.base_url = self.loopback.base_url

    def close(self) -> None:
        """Release held streams and stop serving."""
        self.release.set()
        self.loopback.close()


if __name__ == "__main__":
    # `python -m tests.fakes.streaming_agent [CHUNKS GAP_S]`: serve in a process of its own (the benchmark), print
    # the base URL; /stream then sends CHUNKS chunks GAP_S apart.
    import sys

    served = StreamingAgent()
    if len(sys.argv) == 3:
        served.chunks, served.gap_s = [f"w{i} " for i in range(int(sys.argv[1]))], float(sys.argv[2])
    print(served.base_url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    served.close()
