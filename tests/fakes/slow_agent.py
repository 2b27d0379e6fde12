"""A tiny real HTTP agent on loopback that answers slowly, counting its calls."""

from __future__ import annotations

import json
import threading
import time

from tests.loopback import LoopbackServer, QuietHandler


class SlowAgent:
    """POST {message: {content}} -> {"reply": "reply to <content>"} after delay_s; the first call may hang."""

    def __init__(self, delay_s: float = 0.0, hang_first: bool = False):
        self.delay_s = delay_s
        self.hang_first = hang_first
        self.calls = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        agent = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with agent._lock:
                    agent.calls += 1
                    first = agent.calls == 1
                if first and agent.hang_first:
                    agent.release.wait(30)
                time.sleep(agent.delay_s)
                try:
                    self.answer_json({"reply": f"reply to {body['message']['content']}"})
                except OSError:
                    pass  # the worker that asked was killed meanwhile

        self.loopback = LoopbackServer(Handler, "/agent")
        self.url = self.loopback.url

    def wait_for_calls(self, count: int, timeout_s: float = 15.0) -> None:
        """Block until the agent has been asked `count` times."""
        deadline = time.monotonic() + timeout_s
        while self.calls < count:
            assert time.monotonic() < deadline, f"the agent was asked {self.calls} times, not {count}"
            time.sleep(0.02)

    def close(self) -> None:
        """Release a hung call and stop serving."""
        self.release.set()
        self.loopback.close()
