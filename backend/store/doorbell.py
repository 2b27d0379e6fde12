"""A doorbell between the processes of one host that use one database: a stop asked in one worker wakes the
journal of the worker running the turn at once, not at that journal's next look at the database (FLUSH_S).

Measured before it (2026-12-07, two servers on one SQLite file, an agent streaming every 20 ms): from the stop
request to the agent's stream closed took 40-100 ms on a quiet machine, and 365 ms once under a loaded CI run;
half of it was the wait for the next look.

Each listening doorbell binds a Unix datagram socket (named by its process id and a random part) in a directory
named by the database, in the temporary directory, made by this user and closed to others (a directory found
otherwise is not used). A ring sends one byte to every socket there but its own process's; a socket whose process
died refuses it and is removed. A ring is only a hint: the database stays the truth, and a listener on another
host (PostgreSQL), or where no socket can be made, hears the stop at its next look, as before: nothing here
raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
import threading
import time
import weakref
from pathlib import Path

import sqlalchemy as sa

from backend.store.engines import sqlite_file

log = logging.getLogger(__name__)


class Doorbell:
    """Rings the other processes of this host that listen on the same database; `wait` hears them."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._socket: socket.socket | None = None
        self._pid: int | None = None  # the process the socket was bound in (a forked child binds its own)
        self._closing: weakref.finalize | None = None  # closes the socket, also when the doorbell is collected
        # One waiter at a time reads the socket (two apps of one database in a process share this doorbell);
        # another sleeps meanwhile, as without a doorbell.
        self._reading = threading.Lock()

    def ring(self) -> None:
        """Wake every listener of this database on this host but this process's own."""
        if self.directory is None:
            return
        try:
            names = os.listdir(self.directory)
            own = f"{os.getpid()}."
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.setblocking(False)
                for name in names:
                    if not name.startswith(own):
                        _ring_one(sender, self.directory / name)
        except OSError:
            pass  # no directory yet (nobody listened), or no socket to send from: the next look hears the stop

    def wait(self, timeout_s: float) -> bool:
        """Wait at most `timeout_s` for a ring (a plain sleep where there is no doorbell); whether one came."""
        if not self._reading.acquire(blocking=False):
            time.sleep(timeout_s)
            return False
        try:
            listening = self._listening()
            if listening is None:
                time.sleep(timeout_s)
                return False
            listening.settimeout(timeout_s)
            try:
                listening.recv(16)
            except TimeoutError:
                return False
            listening.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while listening.recv(16):  # the rings that came meanwhile are heard by this one wake
                    pass
            return True
        except Exception:  # noqa: BLE001 - closed meanwhile, or anything else: this wait is a sleep, never a failure
            time.sleep(timeout_s)
            return False
        finally:
            self._reading.release()

    def close(self) -> None:
        """Stop listening (a process's doorbell otherwise listens as long as it lives)."""
        if self._closing is not None and self._pid == os.getpid():
            self._closing()
        self._socket = self._pid = self._closing = None

    def _listening(self) -> socket.socket | None:
        if self._pid == os.getpid():
            return self._socket
        self._pid, self._socket = os.getpid(), None
        if self.directory is None or not _ours(self.directory):
            return None
        # Unique, so that two doorbells of one database in a process (two apps) never take each other's place.
        path = self.directory / f"{self._pid}.{secrets.token_hex(4)}"
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            listening.bind(str(path))
        except OSError:
            listening.close()
            return None
        self._socket, self._closing = listening, weakref.finalize(self, _unbind, listening, path, self._pid)
        return listening


def _ring_one(sender: socket.socket, path: Path) -> None:
    try:
        bound = path.lstat()
        sender.sendto(b"!", str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        # Its process died. Removed only if it is still the socket found: a process that has the pid now binds
        # a socket of another name, and is never removed for its predecessor.
        with contextlib.suppress(OSError):
            if path.lstat().st_ino == bound.st_ino:
                path.unlink()
    except OSError:
        pass  # BlockingIOError: its queue is full, so it has been rung already


def _ours(directory: Path) -> bool:
    """Whether `directory` is (now) a directory of this user that no other user may write into."""
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        found = directory.lstat()
    except OSError:
        return False
    if stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid() and not found.st_mode & 0o077:
        return True
    log.warning("%s is not a private directory of this user: stops from other workers are heard by polling", directory)
    return False


def _unbind(listening: socket.socket, path: Path, pid: int) -> None:
    listening.close()
    if os.getpid() == pid:  # not a forked child's: the socket is its parent's
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # the last one out, when no other process of this database listens


# By engine, as the disk-full mark: engines of one database share a directory, hence each other's rings.
_doorbells: weakref.WeakKeyDictionary[sa.Engine, Doorbell] = weakref.WeakKeyDictionary()


def doorbell(engine: sa.Engine) -> Doorbell:
    """The doorbell of `engine`'s database on this host."""
    found = _doorbells.get(engine)
    if found is None:
        found = _doorbells[engine] = Doorbell(doorbell_directory(engine.url))
    return found


def doorbell_directory(url: sa.URL) -> Path | None:
    """Where the listeners of the database at `url` bind; None for a database no other process can open, or when
    there is no temporary directory."""
    if url.get_backend_name() == "sqlite":
        database = sqlite_file(url)
        if database is None:
            return None
        named = os.path.realpath(database)  # one file, whichever link or relative path names it
    else:
        named = url.render_as_string(hide_password=True)  # never by its password
    try:
        temporary = tempfile.gettempdir()
    except OSError:  # none of TMPDIR, /tmp, /var/tmp or the working directory is writable
        return None
    # Short: a Unix socket's path holds at most 107 bytes.
    digest = hashlib.sha256(named.encode()).hexdigest()[:16]
    return Path(temporary) / f"session-store-{digest}"
