"""Exact bytes over HTTP: paths unnormalised, bodies that are not JSON, chunked uploads."""

from __future__ import annotations

import http.client
from dataclasses import dataclass


@dataclass
class RawResponse:
    """Status, headers and body of one answer."""

    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        """The body decoded leniently."""
        return self.body.decode("utf-8", "replace")


def send(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    chunked: bool = False,
    timeout_s: float = 30.0,
) -> RawResponse:
    """One request on a new connection to 127.0.0.1:port, sent exactly as given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        all_headers = (
            {"Content-Type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
        )
        if body is not None:
            all_headers["Transfer-Encoding" if chunked else "Content-Length"] = "chunked" if chunked else str(len(body))
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        if body is not None:
            try:
                if chunked:
                    for start in range(0, len(body), 65536):
                        piece = body[start : start + 65536]
                        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                    conn.send(b"0\r\n\r\n")
                else:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered (413) before reading everything: read that answer
        response = conn.getresponse()
        return RawResponse(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()
