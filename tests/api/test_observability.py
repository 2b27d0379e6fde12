"""Request ids, the operator-only /metrics, and warnings about legacy values: once per row, naming it."""

from __future__ import annotations

import hashlib
import logging
import logging.config
import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from backend.context import request_id
from backend.observability.logs import (
    FrequentLine,
    JsonLinesFormatter,
    TextFormatter,
    install_request_id,
    logging_config,
    session_ref,
    skip_unused_record_fields,
)
from backend.services.session import SessionService
from backend.settings import PROJECT_ROOT
from backend.store import rows
from tests.api.conftest import ADMIN_TOKEN


def test_a_clients_request_id_is_echoed_and_a_missing_or_odd_one_is_replaced(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    odd = client.get("/healthz", headers={"X-Request-ID": "has spaces\tand tabs"})
    none = client.get("/healthz")
    assert given.headers["X-Request-ID"] == "abc-123"
    assert odd.headers["X-Request-ID"] != "has spaces\tand tabs" and len(odd.headers["X-Request-ID"]) == 32
    assert len(none.headers["X-Request-ID"]) == 32 and none.headers["X-Request-ID"] != odd.headers["X-Request-ID"]


def test_the_access_line_and_the_cause_of_a_404_carry_the_same_request_id(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/api/v1/sessions/nobody", headers={"X-Request-ID": "trace-404"})
    access = [r for r in caplog.records if r.name == "backend.access"]
    causes = [r for r in caplog.records if r.name == "backend.web.errors"]
    assert [(r.request_id, r.route, r.status, r.session_id) for r in access] == [
        ("trace-404", "/api/v1/sessions/<session_id>", 404, session_ref("nobody"))
    ]
    assert len(causes) == 1 and causes[0].levelno == logging.INFO and causes[0].getMessage() == "404 session not found"


def test_logs_name_a_session_by_a_reference_never_by_its_id_which_is_its_credential(client, caplog):
    caplog.set_level(logging.INFO)
    secret = client.post("/api/v1/sessions", json={}).get_json()["session_id"]
    client.post("/api/v1/chat", json={"session_id": secret, "message": "hi"})
    client.post(f"/api/v1/sessions/{secret}/messages", json={"role": "nobody", "content": "x"})  # a 422
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert session_ref(secret) in text and session_ref(secret) == "#" + hashlib.sha256(secret.encode()).hexdigest()[:12]
    assert secret not in text


def test_a_422_cause_names_each_field(client, caplog):
    caplog.set_level(logging.INFO)
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    client.post("/api/v1/sessions/s1/messages", json={"role": "wizard", "content": ""})
    cause = [r.getMessage() for r in caplog.records if r.name == "backend.web.errors"]
    assert len(cause) == 1 and cause[0].startswith("422 invalid content, role (content: ") and "role: " in cause[0]


def test_metrics_do_not_exist_without_an_operator_credential(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_operator_token_and_count_requests(make_app):
    client = make_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    client.get("/healthz")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    scrape = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert scrape.status_code == 200
    assert 'session_store_http_requests_total{method="GET",route="/healthz",status="200"}' in scrape.text


def test_metrics_are_not_in_the_openapi_document(make_app):
    paths = make_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client().get("/api/v1/openapi.json").json["paths"]
    assert "/metrics" not in paths


def test_a_legacy_value_is_warned_about_once_per_row_naming_table_and_row(database_url, caplog):
    rows._warned.clear()  # per process: an earlier test's database may have had a row with this id
    service = SessionService(database_url)
    service.get_or_create_session("legacy")
    good = service.save_message("legacy", "user", "fine")
    bad = service.save_message("legacy", "user", "odd time")
    if service.engine.dialect.name == "sqlite":  # PostgreSQL's typed columns cannot hold such values
        with service.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE chat_history SET timestamp = 'not a date', metadata = '{oops' WHERE id = :id"),
                {"id": bad},
            )
    caplog.set_level(logging.WARNING)
    for _ in range(4):
        history = service.get_chat_history("legacy")
    warnings = [r for r in caplog.records if r.name == "backend.store.rows"]
    if service.engine.dialect.name != "sqlite":
        assert warnings == []
        return
    assert [m.id for m in history] == [good, bad] and history[1].timestamp is None and history[1].metadata == {}
    assert len(warnings) == 1
    assert warnings[0].getMessage() == (
        f"legacy value in chat_history row {bad}: unreadable timestamp 'not a date' read as null; "
        "metadata that is not JSON read as {}"
    )
    assert (warnings[0].table, warnings[0].row) == ("chat_history", bad)


_METRICS_GONE = """
import os, shutil, sys
from backend import create_app
from backend.settings import TestingConfig
app = create_app(TestingConfig(DATABASE_URL=sys.argv[1], ADMIN_TOKEN=None, CHAT_AGENT=None, CHAT_AGENT_URL=None))
client = app.test_client()
shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"])  # a /tmp cleaner took the workers' metric files
codes = [
    client.post("/api/v1/sessions", json={"session_id": "m"}).status_code,
    client.get("/api/v1/sessions/m").status_code,
]
print(codes)
"""


@pytest.mark.slow  # starts a process
def test_requests_and_transactions_go_on_when_metrics_cannot_be_written(database_url, tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "PYTHONPATH": str(PROJECT_ROOT)}
    (tmp_path / "metrics").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _METRICS_GONE, database_url],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[201, 200]"
    assert result.stderr.count("metrics stop being recorded in this process") == 1


def test_refused_requests_get_a_request_id_an_access_line_and_a_count(make_app, caplog):
    from backend.observability.metrics import exposition
    from tests.api.test_rate_limits import ALICE, jwt_settings

    caplog.set_level(logging.INFO)

    def counts():  # requests of /api/v1/sessions by (method, status), as /metrics serves them
        pattern = r'session_store_http_requests_total\{method="(\w+)",route="/api/v1/sessions",status="(\d+)"\} (\S+)'
        return {(m, s): float(n) for m, s, n in re.findall(pattern, exposition()[0].decode())}

    client = make_app(**jwt_settings(RATE_LIMIT_WRITES="1/minute")).test_client()
    before = counts()
    unauthorized = client.get("/api/v1/sessions", headers={"X-Request-ID": "refused-1"})
    client.post("/api/v1/sessions", headers=ALICE)
    limited = client.post("/api/v1/sessions", headers=ALICE)
    leading_slashes = client.get("//api/v1/sessions")
    assert (unauthorized.status_code, limited.status_code, leading_slashes.status_code) == (401, 429, 404)
    assert unauthorized.headers["X-Request-ID"] == "refused-1" and limited.headers["X-Request-ID"]
    assert leading_slashes.headers["X-Request-ID"]
    access = [(r.status, r.request_id) for r in caplog.records if r.name == "backend.access"]
    assert (401, "refused-1") in access and 429 in {status for status, _ in access}
    assert 404 in {status for status, _ in access}
    after = counts()
    assert after[("GET", "401")] == before.get(("GET", "401"), 0) + 1
    assert after[("POST", "429")] == before.get(("POST", "429"), 0) + 1


def _rejected() -> dict[str, float]:
    from backend.observability.metrics import exposition

    pattern = r'session_store_auth_rejected_total\{reason="(\w+)"\} (\S+)'
    return {reason: float(n) for reason, n in re.findall(pattern, exposition()[0].decode())}


def test_refused_operator_credentials_are_counted_by_reason(make_app):
    from tests.api.test_rate_limits import ALICE, jwt_settings

    none_mode = make_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    jwt_mode = make_app(**jwt_settings()).test_client()
    before = _rejected()
    assert none_mode.get("/metrics").status_code == 401
    assert none_mode.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert jwt_mode.get("/metrics", headers=ALICE).status_code == 401  # a valid token, but not an operator's
    assert jwt_mode.get("/metrics", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    after = _rejected()
    grew = {reason: after[reason] - before.get(reason, 0) for reason in after if after[reason] != before.get(reason)}
    assert grew == {"missing": 1, "wrong_admin_token": 1, "not_operator": 1, "malformed": 1}


def test_a_method_of_the_clients_own_making_is_counted_as_other(client):
    from backend.observability.metrics import exposition

    for method in ("BREW", "PROPFIND", "X" * 20):
        assert client.open("/healthz", method=method).status_code == 405
    text = exposition()[0].decode()
    assert 'session_store_http_requests_total{method="other",route="unmatched",status="405"}' in text
    assert "BREW" not in text and "PROPFIND" not in text


@pytest.mark.parametrize("offset", [0.0, 0.0004, 0.5, 0.9996, 0.99999, 1.0, 59.999, 3600.25])
def test_log_lines_keep_the_standard_formatters_time_while_making_its_text_once_a_second(offset):
    standard, kept = logging.Formatter(), TextFormatter()
    json_kept = JsonLinesFormatter("%(asctime)s %(message)s")
    for start in (1_764_000_000.0, 1_774_746_000.0, 1_798_761_599.0):  # any second, an hour, a year's last
        for created in (start, start + offset, start + offset + 1, start):  # back to an earlier second, too
            record = logging.LogRecord("x", logging.INFO, __file__, 1, "hi", None, None)
            record.created, record.msecs = created, (created - int(created)) * 1000
            assert kept.formatTime(record) == standard.formatTime(record)
            assert json_kept.formatTime(record) == standard.formatTime(record)
            assert kept.formatTime(record, "%H:%M") == standard.formatTime(record, "%H:%M")


class _Kept(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _access_lines(line: FrequentLine, call) -> list[logging.LogRecord]:
    kept = _Kept()
    line.logger.addHandler(kept)
    try:
        call()
    finally:
        line.logger.removeHandler(kept)
    return kept.records


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_frequent_line_is_the_record_and_the_text_logging_itself_makes(fmt):
    logger = logging.getLogger("tests.frequent")
    logger.setLevel(logging.INFO)
    fields = ("event", "status", "session_id", "é")
    line = FrequentLine(logger, logging.INFO, "%s %s %.1f ms session_id=%s", fields)
    args, values = ("GET", 200, 1.25, "#abc"), ("access", 200, None, "ü")
    extra = dict(zip(fields, values, strict=True))
    install_request_id()
    skip_unused_record_fields()
    token = request_id.set("rid-1")
    try:
        [quick] = _access_lines(line, lambda: line.log(args, values))
        [made] = _access_lines(line, lambda: logger.info(line.msg, *args, extra=extra))
        [later] = _access_lines(line, lambda: line.log(("POST", 201, 2.5, "-"), ("access", 201, "x", "y")))
    finally:
        request_id.reset(token)
    assert line._made_like is not None and line._made_like[1] is not None  # made the quick way
    times = ("created", "msecs", "relativeCreated")
    assert [k for k in quick.__dict__] == [k for k in made.__dict__]  # the JSON formatter keeps their order
    assert {k: v for k, v in quick.__dict__.items() if k not in times} == {
        k: v for k, v in made.__dict__.items() if k not in times
    }
    assert quick.request_id == "rid-1" and quick.getMessage() == "GET 200 1.2 ms session_id=#abc"
    assert 0 <= made.created - quick.created < 5 and quick.msecs == int((quick.created % 1) * 1000)
    since = (made.relativeCreated - quick.relativeCreated) / 1000
    assert abs(since - (made.created - quick.created)) < 1e-6  # the same clock as logging's own
    assert later.status == 201 and quick.status == 200 and quick.args == args  # each record its own fields
    quick.created, quick.msecs, quick.relativeCreated = made.created, made.msecs, made.relativeCreated
    formatter = logging.config.DictConfigurator(logging_config(fmt)).configure_formatter(
        logging_config(fmt)["formatters"]["main"]
    )
    assert formatter.format(quick) == formatter.format(made)


def test_a_frequent_line_goes_through_logging_itself_when_records_are_made_otherwise():
    logger = logging.getLogger("tests.frequent.other")
    logger.setLevel(logging.INFO)
    line = FrequentLine(logger, logging.INFO, "%s %s", ("event",))
    ours = logging.getLogRecordFactory()
    made = []

    def factory(*args, **kwargs):  # another library's factory: its records, with a field of each its own
        record = logging.LogRecord(*args, **kwargs)
        made.append(record)
        record.trace = len(made)
        return record

    try:
        logging.setLogRecordFactory(factory)  # around ours
        [outside] = _access_lines(line, lambda: line.log(("x", "y"), ("e",)))
        logging.setLogRecordFactory(factory)
        install_request_id()  # ours around it
        traced = _access_lines(line, lambda: [line.log(("x", "y"), ("e",)) for _ in range(2)])
        logging.setLogRecordFactory(ours)
        logging._srcfile = logging.__file__  # logging looks its callers up again: the caller's line, as before
        [located] = _access_lines(line, lambda: line.log(("x", "y"), ("e",)))
    finally:
        logging.setLogRecordFactory(ours)
        skip_unused_record_fields()
    assert outside.trace == 1 and outside.event == "e" and outside.getMessage() == "x y"
    assert [record.trace for record in traced] == [2, 3] and traced[0].request_id == "-"
    assert (located.module, located.funcName) == ("test_observability", "<lambda>")
    for refused in (("message",), ("created",), ("request_id",)):  # a field a record has of its own
        with pytest.raises(ValueError):
            FrequentLine(logger, logging.INFO, "%s", refused)
    logger.setLevel(logging.WARNING)
    assert _access_lines(line, lambda: line.log(("x", "y"), ("e",))) == []
