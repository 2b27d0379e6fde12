"""Reading Server-Sent Events from an agent's HTTP stream, each event as soon as its blank line arrives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

MAX_EVENT_BYTES = 1024 * 1024  # an agent that never ends an event must not grow our memory without bound


def read_events(raw) -> Iterator[tuple[str, Any]]:
    """(event name, JSON data) for each event of `raw` (a urllib3 response); read1 returns what has arrived,
    so nothing waits for a buffer to fill."""
    buffer = b""
    while True:
        data = raw.read1(65536)
        if not data:
            return
        buffer += data.replace(b"\r\n", b"\n")
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            event = parse_event(block.decode("utf-8", errors="replace"))
            if event is not None:
                yield event
        if len(buffer) > MAX_EVENT_BYTES:
            raise ValueError("an event of the agent's stream is too large")


def parse_event(block: str) -> tuple[str, Any] | None:
    """(name, data) of one event block; None for a comment-only block or one without data."""
    name, lines = "message", []
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            lines.append(value)
    if not lines:
        return None
    try:
        return name, json.loads("\n".join(lines))
    except ValueError:
        return name, None
