"""The OpenAI Responses API on a loopback port, for the SDK's real client: `POST /v1/responses` answers "reply N",
`POST /v1/responses/compact` answers the user messages it was given and one compaction item, as the real
endpoint does. Each keeps the request bodies it was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from openai import AsyncOpenAI

from tests.loopback import LoopbackServer, QuietHandler

USAGE = {
    "input_tokens": 1,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 1,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 2,
}


def compaction_item(n: int, items: int) -> dict:
    """The compaction item of the n-th compaction, over `items` items."""
    return {"type": "compaction", "id": f"cmp_{n}", "encrypted_content": f"summary {n} of {items} items"}


def _as_user_message(item: dict) -> dict:
    """A user input item as the compact endpoint hands it back: a message of input_text parts."""
    content = item["content"]
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
    return {"type": "message", "role": "user", "content": parts}


class OpenAILoopback:
    """The server, its client, and what it was sent: `responses` and `compactions` (request bodies, in order).
    `before_compaction_answer`, when set, runs in the server's thread before a compaction is answered."""

    def __init__(self):
        self.responses: list[dict] = []
        self.compactions: list[dict] = []
        self.before_compaction_answer: Callable[[], None] | None = None
        self._lock = threading.Lock()
        loopback = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/v1/responses":
                    self.answer_json(loopback._reply(body))
                elif self.path == "/v1/responses/compact":
                    self.answer_json(loopback._compacted(body))
                else:
                    self.answer_json({"error": {"message": f"no {self.path} here"}}, 404)

        self.server = LoopbackServer(Handler)
        self.client = AsyncOpenAI(base_url=self.server.base_url + "/v1", api_key="loopback", max_retries=0)

    def _reply(self, body: dict) -> dict:
        with self._lock:
            self.responses.append(body)
            n = len(self.responses)
        message = {
            "type": "message",
            "id": f"msg_{n}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": f"reply {n}", "annotations": []}],
        }
        return {
            "id": f"resp_{n}",
            "object": "response",
            "created_at": 0,
            "model": body["model"],
            "status": "completed",
            "output": [message],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": USAGE,
        }

    def _compacted(self, body: dict) -> dict:
        with self._lock:
            self.compactions.append(body)
            n = len(self.compactions)
        if self.before_compaction_answer is not None:
            self.before_compaction_answer()
        items = body.get("input") or []
        output = [_as_user_message(item) for item in items if item.get("role") == "user"]
        output.append(compaction_item(n, len(items)))
        return {
            "id": f"cmp_resp_{n}",
            "object": "response.compaction",
            "created_at": 0,
            "output": output,
            "usage": USAGE,
        }

    def close(self) -> None:
        """Stop the server."""
        self.server.close()
