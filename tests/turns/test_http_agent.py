"""The HTTP agent adapter against a real HTTP server on 127.0.0.1: good, slow, failing, garbage."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.services.agents import AgentFailed, AgentRequest, HttpAgent, echo_agent, load_agent
from backend.store.records import MessageRecord, SessionRecord
from tests.fakes.calls import call_agent

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
REQUEST = AgentRequest(
    SessionRecord("s1", None, NOW, NOW, 2, {}),
    [MessageRecord(1, "s1", "user", "earlier", NOW, {})],
    MessageRecord(2, "s1", "user", "now", NOW, {"modality": "voice"}),
)


class Handler(BaseHTTPRequestHandler):
    """Answers according to the path: /good, /slow, /fail, /garbage, /not-object, /no-reply."""

    received: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.received.append(body)
        if self.path == "/slow":
            time.sleep(2)
        status, payload = {
            "/fail": (500, b'{"error": "boom"}'),
            "/garbage": (200, b"<html>not json"),
            "/not-object": (200, b"[1, 2]"),
            "/no-reply": (200, b'{"answer": "hi"}'),
        }.get(
            self.path, (200, json.dumps({"reply": f"got {body['message']['content']}", "metadata": {"m": 1}}).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_good_endpoint_gets_session_history_and_message_and_its_reply_is_used(server):
    Handler.received.clear()
    reply = call_agent(HttpAgent(f"{server}/good", 5), REQUEST, 5)
    assert (reply.text, reply.metadata) == ("got now", {"m": 1})
    sent = Handler.received[-1]
    assert sent["session_id"] == "s1"
    assert [m["content"] for m in sent["history"]] == ["earlier"]
    assert sent["message"] == {
        "id": 2,
        "session_id": "s1",
        "role": "user",
        "content": "now",
        "timestamp": "2024-05-06T07:08:09+00:00",
        "metadata": {"modality": "voice"},
    }


def test_a_slow_endpoint_fails_within_the_timeout(server):
    started = time.monotonic()
    with pytest.raises(AgentFailed, match="did not answer within"):
        call_agent(HttpAgent(f"{server}/slow", 0.3), REQUEST, 0.3)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "path, reason",
    [("/fail", "HTTP 500"), ("/garbage", "not JSON"), ("/not-object", "not a reply"), ("/no-reply", "no reply text")],
)
def test_a_failing_or_garbage_endpoint_is_agent_failed(server, path, reason):
    with pytest.raises(AgentFailed, match=reason):
        call_agent(HttpAgent(f"{server}{path}", 5), REQUEST, 5)


def test_an_endpoint_nobody_listens_on_is_agent_failed():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AgentFailed, match="could not be reached"):
        call_agent(HttpAgent(f"http://127.0.0.1:{port}/", 2), REQUEST, 2)


def test_load_agent_picks_http_callable_or_echo():
    assert isinstance(load_agent(None, "http://127.0.0.1:9/x", 3), HttpAgent)
    assert load_agent("tests.fakes.agents:recording", None, 3).__name__ == "recording"
    assert load_agent(None, None, 3) is echo_agent
    for spec, url in [("a:b", "http://x"), ("no-colon", None), (None, "ftp://x"), ("json:__doc__", None)]:
        with pytest.raises(RuntimeError):
            load_agent(spec, url, 3)


def test_the_echo_agent_repeats_the_message():
    assert call_agent(echo_agent, REQUEST, 1).text == "echo: now"
