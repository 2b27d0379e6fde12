"""gunicorn's logger, building its access line only for a logger that would write it, and without gunicorn's
"Listening at" line when it has no address to say (config/gunicorn.conf.py's when_ready says it)."""

from __future__ import annotations

import logging

from gunicorn import glogging
from gunicorn.instrument.statsd import Statsd


class Logger(glogging.Logger):
    """gunicorn builds every request's access-line fields (a dict of about 20, its date formatted, the headers
    walked) whenever any logging configuration is given, then hands them to `gunicorn.access`, which this app's
    configuration leaves at WARNING: the app writes its own access line (backend.access). They are built only when
    that logger takes INFO, as an operator's own configuration may ask."""

    def __new__(cls, cfg):
        # gunicorn turns to its statsd logger by itself only while logger_class is its own default: with
        # statsd_host set, that logger, as gunicorn would have chosen (it sends each request's metrics from access).
        if cls is Logger and cfg.statsd_host is not None:
            return Statsd(cfg)
        return super().__new__(cls)

    def access(self, resp, req, environ, request_time) -> None:
        if self.access_log.isEnabledFor(logging.INFO):
            super().access(resp, req, environ, request_time)

    def info(self, msg, *args, **kwargs) -> None:
        # Each worker listens on a socket of its own (SO_REUSEPORT), so the master has none and gunicorn's line
        # read "Listening at:  (PID)"; when_ready writes the addresses instead.
        if msg.startswith("Listening at: ") and args and args[0] == "":
            return
        super().info(msg, *args, **kwargs)
