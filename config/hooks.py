"""What gunicorn's master does for us (config/gunicorn.conf.py): check settings once before forking, keep metrics'
files."""

from __future__ import annotations

import gc
import glob
import os
import shutil
import sys
import tempfile

import sqlalchemy as sa

from backend.observability.logs import log_format, log_level

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


# gunicorn's own settings (config/gunicorn.conf.py), whole numbers above 0.
SERVER_NUMBERS = ("PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS")


def number(name: str, default: float) -> float:
    """The number in variable `name`, or `default` when unset or not a number (on_starting reports that one)."""
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def settings_problem() -> str | None:
    """The first bad setting, as one sentence; None when every setting is usable."""
    # Imported here, not at the top: gunicorn's config imports this module before it sets
    # PROMETHEUS_MULTIPROC_DIR, and prometheus-client picks its mode when first imported.
    from backend.services.agents import load_agent
    from backend.settings import config_from_env
    from backend.store.engines import SUPPORTED_DATABASES

    for name in SERVER_NUMBERS:
        value = os.environ.get(name)
        if value and not (value.isdigit() and int(value) > 0):
            return f"{name} must be a whole number above 0, not {value!r}"
    try:
        log_format()
        log_level()
        config = config_from_env()
        load_agent(config.CHAT_AGENT, config.CHAT_AGENT_URL, config.AGENT_TIMEOUT_S)
        backend = sa.make_url(config.DATABASE_URL).get_backend_name()
        if backend not in SUPPORTED_DATABASES:
            return f"DATABASE_URL names {backend!r}; use SQLite or PostgreSQL"
    except sa.exc.ArgumentError:
        return "DATABASE_URL is not a database URL (for example postgresql+psycopg://user@host/db)"
    except ValueError as exc:  # int("abc") and friends: say which setting it was
        return _name_the_number(str(exc))
    except (ImportError, AttributeError) as exc:
        return f"CHAT_AGENT {os.environ.get('CHAT_AGENT')!r} cannot be loaded: {exc}"
    except RuntimeError as exc:
        return str(exc)
    return None


def _name_the_number(text: str) -> str:
    kind = "a whole number" if text.startswith("invalid literal for int()") else "a number"
    if not text.startswith(("invalid literal", "could not convert")):
        return text
    for name, value in os.environ.items():
        if value and text.endswith(repr(value)) and name.isupper():
            return f"{name} must be {kind}, not {value!r}"
    return text


def exit_on_bad_settings() -> None:
    """Print the first bad setting in one line and exit with status 1; nothing when all are usable."""
    problem = settings_problem()
    if problem:
        print(f"session-store: bad setting: {problem}", file=sys.stderr, flush=True)
        sys.exit(1)


def metrics_directory() -> str:
    """PROMETHEUS_MULTIPROC_DIR, set to a new private directory when the operator gave none (the workers inherit it)."""
    global _created
    directory = os.environ.get(METRICS_DIR_VARIABLE)
    if not directory:
        directory = _created = os.environ[METRICS_DIR_VARIABLE] = tempfile.mkdtemp(prefix="session-store-metrics-")
    os.makedirs(directory, exist_ok=True)
    return directory


_created: str | None = None


def remove_own_metrics_directory() -> None:
    """At exit: remove the directory metrics_directory() made (one the operator named stays)."""
    if _created:
        shutil.rmtree(_created, ignore_errors=True)


def clear_metrics_directory(uid: int | None = None, gid: int | None = None) -> None:
    """Remove the files of an earlier run (its counts would add to this one's); the workers' user may write there."""
    directory = metrics_directory()
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)
    # Workers that drop to another user (gunicorn --user) write their own files here.
    if os.geteuid() == 0 and uid is not None and (uid, gid) != (os.getuid(), os.getgid()):
        os.chown(directory, uid, gid if gid is not None else -1)


def mark_worker_dead(pid: int) -> None:
    """A worker exited: its live gauges (turns in flight) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, metrics_directory())


def freeze_loaded_objects() -> None:
    """Leave the objects of the loaded app (about 135,000: modules, classes, compiled statements) out of the
    garbage collector's full passes: they live as long as the worker. Each full pass walked them all and stopped
    every request of the worker meanwhile: 88 and 146 ms, with 200 turns streaming, and a resume waited for it.
    The garbage of the loading is collected first: a frozen object is never collected."""
    gc.collect()
    gc.freeze()
