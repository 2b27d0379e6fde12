"""gunicorn's access line is built only for a logger that writes it (config/logger.py): with the app's logging
configuration it is not, and an operator's configuration that asks for it still gets it."""

from __future__ import annotations

import io
import logging
import runpy
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.instrument.statsd import Statsd

from backend.settings import PROJECT_ROOT
from config.logger import Logger

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "RAW_URI": "/healthz?probe=1",
    "PATH_INFO": "/healthz",
    "QUERY_STRING": "probe=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_USER_AGENT": "probe/1",
}


def _answered(logger: Logger) -> None:
    response = SimpleNamespace(status="200 OK", sent=15, headers=[("Content-Type", "application/json")])
    request = SimpleNamespace(headers=[("HOST", "localhost"), ("USER-AGENT", "probe/1")])
    logger.access(response, request, ENVIRON, timedelta(microseconds=1500))


@pytest.fixture
def logger(monkeypatch):
    """Our Logger with gunicorn's access log handler (accesslog "-") writing to `written`, counting the lines'
    fields it builds; gunicorn's loggers as they were afterwards."""
    loggers = [logging.getLogger(name) for name in ("gunicorn.error", "gunicorn.access")]
    saved = [(each, each.level, each.propagate, list(each.handlers)) for each in loggers]
    config = Config()
    config.set("accesslog", "-")
    made = Logger(config)
    (handler,) = [handler for handler in made.access_log.handlers if getattr(handler, "_gunicorn", False)]
    made.written = io.StringIO()
    handler.setStream(made.written)
    built = []
    atoms = made.atoms
    monkeypatch.setattr(made, "atoms", lambda *args: built.append(args) or atoms(*args))
    made.built = built
    yield made
    for each, level, propagate, handlers in saved:
        each.setLevel(level)
        each.propagate = propagate
        each.handlers[:] = handlers


def test_the_server_config_names_this_logger(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "sync")  # read without gevent's patching of this process
    settings = runpy.run_path(str(PROJECT_ROOT / "config" / "gunicorn.conf.py"))
    config = Config()
    config.set("logger_class", settings["logger_class"])
    assert config.logger_class is Logger


def test_a_line_no_logger_writes_is_not_built(logger):
    logger.access_log.setLevel(logging.WARNING)  # as the app's logging configuration sets gunicorn.access
    _answered(logger)
    assert logger.built == []
    assert logger.written.getvalue() == ""


def test_a_line_an_operator_asks_for_is_written_as_gunicorn_writes_it(logger):
    logger.access_log.setLevel(logging.INFO)
    _answered(logger)
    assert len(logger.built) == 1
    line = logger.written.getvalue()
    assert "127.0.0.1 - - [" in line
    assert '"GET /healthz?probe=1 HTTP/1.1" 200 15 "-" "probe/1"' in line


def test_gunicorns_line_without_an_address_is_left_out_and_others_are_kept(logger, monkeypatch):
    said = []
    monkeypatch.setattr(logger.error_log, "info", lambda msg, *args, **kwargs: said.append(msg % args))
    logger.info("Listening at: %s (%s)", "", 4242)  # the master's line when each worker has its own socket
    logger.info("Listening at: %s (%s)", "http://127.0.0.1:8000", 4242)  # a shared socket: kept
    logger.info("Listening at: %s (a socket in each worker)", "http://127.0.0.1:8000")  # when_ready's
    logger.info("Booting worker with pid: %s", 4243)
    assert said == [
        "Listening at: http://127.0.0.1:8000 (4242)",
        "Listening at: http://127.0.0.1:8000 (a socket in each worker)",
        "Booting worker with pid: 4243",
    ]


def test_with_statsd_gunicorns_statsd_logger_is_used_as_gunicorn_would_choose_it(logger):
    assert type(logger) is Logger  # without statsd_host (the fixture puts gunicorn's loggers back afterwards)
    config = Config()
    config.set("statsd_host", "127.0.0.1:8125")
    config.set("logger_class", "config.logger.Logger")
    made = config.logger_class(config)
    try:
        assert type(made) is Statsd
    finally:
        made.sock.close()
