"""A small asyncio HTTP/1.1 client for load on loopback: hundreds of concurrent requests from one thread."""

from __future__ import annotations

import asyncio
import json
import time


async def request(host: str, port: int, method: str, path: str, body: dict | None = None) -> tuple[int, float, bytes]:
    """(status, seconds, body) of one request on its own connection."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        writer.write(head.encode() + b"\r\n" + payload)
        await writer.drain()
        status_line = await reader.readline()
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            data = await reader.readexactly(int(headers["content-length"]))
        else:
            data = await reader.read()
        return int(status_line.split()[1]), time.monotonic() - started, data
    finally:
        writer.close()


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def events(host: str, port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    """A server-sent event stream on its own connection: yields (event, data, arrival time) as each arrives;
    closing the generator drops the connection, as a client that loses its network does. HTTP/1.0: the body
    is the stream itself, with no chunked framing to undo."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        writer.write(head.encode() + b"\r\n" + payload)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the status line and headers
        buffer = b""
        while data := await reader.read(65536):
            buffer += data
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
                yield fields.get("event", "message"), json.loads(fields["data"]), time.monotonic()
    finally:
        writer.close()
