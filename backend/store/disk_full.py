"""A refused write for lack of space, remembered for readiness: by every process on the host that uses the database.

Per process, 2 of 6 /readyz calls right after a 507 answered 200: the worker that answered had not seen the
refusal. The mark is therefore a file, which any process sets when its write is refused and any process
removes when its write commits:

- SQLite: `<database file>.disk-full`, beside the file and its -wal and -shm (SQLite needs that directory
  writable already). Every server, worker and command using that file sees it. An empty file takes no data
  block, so it can be made on the full filesystem itself (an inode and a directory entry).
- PostgreSQL: many hosts share one database, and no file is shared between them; the database cannot hold
  the mark either, since it takes no writes then. Each host keeps its own, in the server's
  PROMETHEUS_MULTIPROC_DIR (every gunicorn instance has one, shared by its workers): a host is not ready from
  its own first refused write until its next successful one. Hosts that have not written since still say
  ready; their first write answers 507 and marks them too.

Where no file can be kept (an in-memory database; a PostgreSQL process outside gunicorn) or made (the
directory refuses it), the mark lives in the process, as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import weakref
from pathlib import Path

import sqlalchemy as sa

from backend.store.engines import sqlite_file

log = logging.getLogger(__name__)

SUFFIX = ".disk-full"
SHARED_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class DiskFullMark:
    """Set when a write was refused for lack of space, cleared by the next write that commits."""

    def __init__(self, path: Path | None):
        self.path = path
        self._here = False  # set in this process only: there is no file, or it could not be made

    def set(self) -> None:
        """A write was refused for lack of space."""
        if self.path is None:
            self._here = True
            return
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644))
        except OSError as exc:
            if not self._here:  # once, not at every refused write
                log.warning(
                    "the disk-full mark %s cannot be made (%s): only this process knows", self.path, exc.strerror
                )
            self._here = True

    def clear(self) -> None:
        """A write committed: the disk has room again. Costs one stat when there is no mark."""
        self._here = False
        if self.path is not None and os.path.exists(self.path):
            try:
                os.unlink(self.path)
            except FileNotFoundError:  # another process cleared it first
                pass

    def is_set(self) -> bool:
        """Whether a write was refused for lack of space, here or in another process, since the last commit."""
        return self._here or (self.path is not None and os.path.exists(self.path))


# By engine, not by URL: rendering the URL cost 0.8 us a transaction, the lookup 0.13 us.
_marks: weakref.WeakKeyDictionary[sa.Engine, DiskFullMark] = weakref.WeakKeyDictionary()


def disk_full_mark(engine: sa.Engine) -> DiskFullMark:
    """The mark of `engine`'s database (engines of one database share its file)."""
    mark = _marks.get(engine)
    if mark is None:
        mark = _marks[engine] = DiskFullMark(mark_path(engine.url))
    return mark


def mark_path(url: sa.URL) -> Path | None:
    """Where the mark of the database at `url` is kept; None where no file can be shared (see the module)."""
    if url.get_backend_name() == "sqlite":
        database = sqlite_file(url)
        return None if database is None else Path(database + SUFFIX)
    shared = os.environ.get(SHARED_DIR_VARIABLE)
    if not shared:
        return None
    # One server's directory may serve several databases (one per configuration): named by the database,
    # never by its password.
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return Path(shared) / f"{url.get_backend_name()}-{digest}{SUFFIX}"
