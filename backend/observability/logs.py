"""Log setup: readable text by default, JSON lines with LOG_FORMAT=json; every line carries the request id."""

from __future__ import annotations

import functools
import hashlib
import logging
import logging.config
import os
import time

from pythonjsonlogger.json import JsonFormatter

from backend.context import request_id

# The process id tells gunicorn's workers apart.
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(process)d %(name)s: %(message)s"
# python-json-logger adds every `extra` field of a record (route, status, duration_ms, ...) as a key.
JSON_FIELDS = "%(asctime)s %(levelname)s %(process)d %(name)s %(request_id)s %(message)s"
LOG_FORMATS = ("text", "json")
# Python 3.12 and later: whether a record looks up its asyncio task (asked once: a module's missing attribute costs
# an AttributeError raised and caught on every ask).
_LOGGING_HAS_TASKS = hasattr(logging, "logAsyncioTasks")


# In AUTH_MODE=none whoever knows a session's id may read it: the id is a credential, and logs name
# the session by a reference instead. In jwt mode the owner's token is the credential (see below).
_session_ids_in_full = False


def log_session_ids_in_full(in_full: bool) -> None:
    """Whether logs may carry session ids whole (AUTH_MODE=jwt, set by the app); else references."""
    global _session_ids_in_full
    _session_ids_in_full = in_full


def session_ref(session_id: str | None) -> str:
    """How logs name a session: "#" and 12 hex digits of the SHA-256 of its id (an operator who holds an id
    computes it with `session_ref`), or in jwt mode the id itself; "-" for none."""
    if session_id is None:
        return "-"
    if _session_ids_in_full:
        return session_id
    return _hashed_ref(session_id)


# A conversation's requests name the same session again and again: its reference is computed once (the hash and
# its hex digits were 1.5% of a POST). Bounded, as ids arrive from anyone.
@functools.lru_cache(maxsize=4096)
def _hashed_ref(session_id: str) -> str:
    return "#" + hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class RequestIdFilter(logging.Filter):
    """Gives every record the current request id (backend.context.request_id), '-' outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get() or "-"
        return True


def install_request_id() -> None:
    """Every record made from now on carries the current request id, whatever handler gets it (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "adds_request_id", False):
        return

    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = request_id.get() or "-"
        return record

    make_record.adds_request_id = True  # type: ignore[attr-defined]
    # Whether its records are logging's own plus the request id, nothing another factory adds (FrequentLine).
    make_record.wraps_logging_record = factory is logging.LogRecord  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


class FrequentLine:
    """One kind of line a logger writes very often (the access line: every request), its records made as logging
    makes them, without the generic path: a copy of one record logging made, with this line's time, request id,
    arguments and fields, handed to the logger's handlers (Logger.handle, with its filters and propagation).
    LogRecord.__init__ and the way to it were 35k of an access line's 90k instructions (callgrind, /healthz).

    Only while a record's fields are all known: no caller, thread, process or task name looked up (what
    skip_unused_record_fields sets), records made by install_request_id's factory around logging's own (another
    factory's fields may change from record to record), and logging's clock in seconds (Python 3.11 and 3.12: from
    3.13 it counts nanoseconds); otherwise through logging."""

    def __init__(self, logger: logging.Logger, level: int, msg: str, fields: tuple[str, ...]):
        own = set(logging.LogRecord("", level, "", 0, "", (), None).__dict__) | {"message", "asctime", "request_id"}
        if own.intersection(fields):
            raise ValueError(f"a record has its own {sorted(own.intersection(fields))}")
        self.logger, self.level, self.msg, self.fields = logger, level, msg, fields
        self._made_like: tuple[tuple, dict] | None = None  # (what records were made like, such a record's fields)

    def log(self, args: tuple, values: tuple) -> None:
        """logger.log(level, msg, *args, extra=dict(zip(fields, values)))."""
        logger = self.logger
        if not logger.isEnabledFor(self.level):
            return
        made_like = self._made_like
        state = (
            logging.getLogRecordFactory(),
            logging._srcfile,
            logging.logThreads,
            logging.logMultiprocessing,
            logging.logProcesses,
            logging.logAsyncioTasks if _LOGGING_HAS_TASKS else False,
        )
        if made_like is None or made_like[0] != state:
            made_like = self._made_like = (state, self._template(state))
        template = made_like[1]
        if template is None or len(args) == 1:  # a sole mapping is taken as the arguments: logging's way
            extra = dict(zip(self.fields, values, strict=True))
            logger.log(self.level, self.msg, *args, extra=extra, stacklevel=2)  # the caller's line, as before
            return
        created = time.time()
        record = logging.LogRecord.__new__(logging.LogRecord)
        record.__dict__ = fields = template.copy()
        fields["args"] = args
        fields["created"] = created
        fields["msecs"] = int((created - int(created)) * 1000) + 0.0  # as LogRecord sets them
        fields["relativeCreated"] = (created - logging._startTime) * 1000
        if logging.logProcesses:
            fields["process"] = os.getpid()
        fields["request_id"] = request_id.get() or "-"
        fields.update(zip(self.fields, values, strict=True))
        logger.handle(record)

    def _template(self, state: tuple) -> dict | None:
        factory, srcfile, threads, multiprocessing, _processes, tasks = state
        if srcfile is not None or threads or multiprocessing or tasks or type(logging._startTime) is not float:
            return None
        if not getattr(factory, "wraps_logging_record", False):
            return None
        record = self.logger.makeRecord(
            self.logger.name, self.level, "(unknown file)", 0, self.msg, (), None, "(unknown function)"
        )
        return record.__dict__


class SecondsKept:
    """Formatter mixin: the time of a line written as logging.Formatter writes it, its date and time of day made once
    a second (`time.strftime` and the conversion to local time were 15k of the 88k instructions of an access line)."""

    _kept: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        if datefmt or not self.default_msec_format:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        kept = self._kept  # one tuple, replaced whole: a thread reads a second with its own text
        if kept[0] != second:
            kept = self._kept = (second, time.strftime(self.default_time_format, self.converter(second)))
        return self.default_msec_format % (kept[1], record.msecs)


class TextFormatter(SecondsKept, logging.Formatter):
    """LOG_FORMAT=text."""


class JsonLinesFormatter(SecondsKept, JsonFormatter):
    """LOG_FORMAT=json: python-json-logger's."""


def log_format() -> str:
    """LOG_FORMAT (text or json; text by default); ValueError for anything else."""
    value = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


def log_level() -> str:
    """LOG_LEVEL (INFO by default); ValueError for a name Python's logging does not know."""
    value = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if not isinstance(logging.getLevelName(value), int):
        raise ValueError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not {value!r}")
    return value


def logging_config(fmt: str | None = None, level: str | None = None) -> dict:
    """A logging.config dictConfig: one stderr handler on the root logger (gunicorn's loggers included)."""
    install_request_id()
    skip_unused_record_fields()
    fmt = fmt or log_format()
    formatter = (
        {
            "()": JsonLinesFormatter,
            "format": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if fmt == "json"
        else {"()": TextFormatter, "format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {
            "main": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["request_id"],
            },
        },
        "root": {"level": level or log_level(), "handlers": ["main"]},
        # gunicorn's own loggers write through ours, in the same format; its access log is replaced by ours.
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "alembic": {"level": "WARNING"},  # its plugin set-up lines at INFO, in every worker
        },
    }


def configure_logging(fmt: str | None = None) -> None:
    """Apply logging_config() to this process (the server's entry points call it once)."""
    logging.config.dictConfig(logging_config(fmt))


def skip_unused_record_fields() -> None:
    """No log line here shows where it was logged from, nor a thread's or a process's name: logging need not find
    them for every record (the "Optimization" section of Python's logging HOWTO). Finding the caller walked the
    stack for each access line."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    if hasattr(logging, "logAsyncioTasks"):  # Python 3.12 and later: no line shows the asyncio task either
        logging.logAsyncioTasks = False


def configure_logging_unless_configured() -> None:
    """configure_logging() for a process whose root logger has no handler yet (gunicorn's workers have ours)."""
    if not logging.getLogger().handlers:
        try:
            configure_logging()
        except ValueError:  # a bad LOG_FORMAT or LOG_LEVEL: gunicorn refuses it; elsewhere, plain text
            configure_logging("text")
