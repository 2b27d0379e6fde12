"""A corpus of requests over the hot routes and their neighbours, replayed through the WSGI app, and rendered as text:
each answer's status, headers and body bytes, its log lines and the metrics it moved (tests/api/corpus/)."""

from __future__ import annotations

import json
import logging
import re

from prometheus_client import REGISTRY
from pythonjsonlogger.json import JsonFormatter
from werkzeug.test import EnvironBuilder

from backend.observability.logs import logging_config
from tests.api.corpus_requests import CORPUS, LAST_ETAG, Call

# What legitimately differs from run to run, and nothing else: the times the database wrote (in bodies, hence the
# Content-Length, checked against the body instead, a HEAD's against the GET of the same URL before it), a request
# id the server generated (only where the call sent none), the order of the methods in Allow, and in log lines the
# time, process id and duration. Every other call sends its name as X-Request-ID, and the sessions have fixed ids.
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
_GENERATED_ID = re.compile(r"[0-9a-f]{32}")
_LOG_MS = re.compile(r" \d+\.\d ms ")


def replay(app) -> str:
    """Every call of CORPUS through `app`'s WSGI callable, in order, as one text."""
    capture = _LogCapture()
    blocks, etag, got = [], None, {}
    with capture:
        for number, call in enumerate(CORPUS, 1):
            before = _metric_counts()
            status, headers, body = _call(app, call, etag)
            moved = _moved(before, _metric_counts())
            etag = dict(headers).get("ETag", etag)
            if call.method == "GET" and status.startswith("200"):
                got[call.path] = len(body)
            blocks.append(_render(number, call, status, headers, body, capture.take(), moved, got.get(call.path)))
    return "\n".join(blocks)


def _call(app, call: Call, etag: str | None) -> tuple[str, list[tuple[str, str]], bytes]:
    headers = {name: (etag or "") if value == LAST_ETAG else value for name, value in call.headers.items()}
    if call.request_id:
        headers["X-Request-ID"] = call.name
    path, _, query = call.path.partition("?")
    body = call.body.encode() if isinstance(call.body, str) else call.body
    environ = EnvironBuilder(path, method=call.method, query_string=query, headers=headers, data=body).get_environ()
    answered = {}

    def start_response(status, response_headers, exc_info=None):
        answered["status"], answered["headers"] = status, list(response_headers)

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answered["status"], answered["headers"], body


def _render(number, call, status, headers, body, logs, moved, get_length) -> str:
    """The call's answer as text: `< ` status and headers in the order sent, `| ` body lines (`|+` continues the line
    above), then `log` lines and `metric` deltas."""
    lines = [f"### {number:02d} {call.name}: {call.method} {call.path}", f"< {status}"]
    for name, value in headers:
        if name == "Content-Length" and value == str(len(body)):
            value = "<the body's length>"  # the body's times vary in length (isoformat drops zero microseconds)
        elif name == "Content-Length" and call.method == "HEAD" and value == str(get_length):
            value = "<the length of the GET before>"
        if name == "Allow":  # werkzeug lists the methods from a set: their order changes with the hash seed
            value = ", ".join(sorted(value.split(", ")))
        if name == "X-Request-ID" and not call.request_id and _GENERATED_ID.fullmatch(value):
            value = "<generated>"
        lines.append(f"< {name}: {value}")
    text = _TIME.sub("<time>", body.decode("utf-8"))
    lines.append(f"body ({'ends with a newline' if text.endswith(chr(10)) else 'no final newline'}):")
    for line in text.splitlines():
        # A page is one line of JSON: cut after each object so that a diff shows the message that changed.
        first, *rest = line.split("},{")
        lines.append(f"| {first}" + ("}," if rest else ""))
        lines.extend(f"|+{{{part}" + ("}," if n < len(rest) - 1 else "") for n, part in enumerate(rest))
    lines.extend(f"log {_normalised_log(line, call)}" for line in logs)
    lines.extend(f"metric {sample} +{delta:g}" for sample, delta in moved)
    return "\n".join(lines) + "\n"


def _normalised_log(line: str, call: Call) -> str:
    record = json.loads(line)
    for name, placeholder in (("time", "<time>"), ("process", "<pid>"), ("duration_ms", "<ms>")):
        if name in record:
            record[name] = placeholder
    record["message"] = _LOG_MS.sub(" <ms> ms ", record["message"])
    if not call.request_id and _GENERATED_ID.fullmatch(str(record.get("request_id"))):
        record["request_id"] = "<generated>"
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def _metric_counts() -> dict[str, float]:
    """Every counter and histogram count of ours in this process (buckets and sums hold durations, and the
    process_* metrics its CPU and memory: left out; so are SQLite's busy waits, counted when a BEGIN takes over
    1 ms, which a loaded machine makes happen on any write)."""
    counts = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name.startswith("session_store_sqlite_busy_wait"):
                continue
            if sample.name.startswith("session_store_") and sample.name.endswith(("_total", "_count")):
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                counts[f"{sample.name}{{{labels}}}"] = sample.value
    return counts


def _moved(before: dict[str, float], after: dict[str, float]) -> list[tuple[str, float]]:
    return sorted((name, value - before.get(name, 0.0)) for name, value in after.items() if value != before.get(name))


class _LogCapture(logging.Handler):
    """The lines `backend` loggers write while it is entered, in the server's JSON format (LOG_FORMAT=json)."""

    def __init__(self):
        spec = logging_config("json")["formatters"]["main"]
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter(spec["format"], rename_fields=spec["rename_fields"]))
        self.lines: list[str] = []
        self.logger = logging.getLogger("backend")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines

    def __enter__(self):
        self.level_before = self.logger.level
        self.logger.setLevel(logging.INFO)  # as the servers run (LOG_LEVEL=INFO)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)
