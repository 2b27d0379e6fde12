"""A doorbell between the processes of one host that use one database: a stop asked in one worker wakes the
journal of the worker running the turn at once, not at that journal's next look at the database (FLUSH_S).

Measured before it (2026-12-07, two servers on one SQLite file, an agent streaming every 20 ms): from the stop
request to the agent's stream closed took 40-100 ms on a quiet machine, and 365 ms once under a loaded CI run;
half of it was the wait for the next look.

Each listening process binds a Unix datagram socket named by its pid in a directory named by the database, in
the temporary directory. A ring sends one byte to every other socket there; a socket whose process died refuses
it and is removed. A ring is only a hint: the database stays the truth, and a listener on another host
(PostgreSQL), or where no socket can be made, hears the stop at its next look, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import time
import weakref
from pathlib import Path

import sqlalchemy as sa


class Doorbell:
    """Rings the other processes of this host that listen on the same database; `wait` hears them."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._socket: socket.socket | None = None
        self._pid: int | None = None  # the process the socket was bound in (a forked child binds its own)
        self._closing: weakref.finalize | None = None  # closes the socket, also when the doorbell is collected

    def ring(self) -> None:
        """Wake every other listener of this database on this host."""
        if self.directory is None:
            return
        try:
            names = os.listdir(self.directory)
        except OSError:
            return  # nobody has listened yet
        own = str(os.getpid())
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            for name in names:
                if name == own:
                    continue
                path = self.directory / name
                try:
                    sender.sendto(b"!", str(path))
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):
                        path.unlink()  # its process died
                except OSError:
                    pass  # BlockingIOError: its queue is full, so it has been rung already

    def wait(self, timeout_s: float) -> bool:
        """Wait at most `timeout_s` for a ring (a plain sleep where there is no doorbell); whether one came."""
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

    def close(self) -> None:
        """Stop listening (a process's doorbell otherwise listens as long as it lives)."""
        if self._closing is not None and self._pid == os.getpid():
            self._closing()
        self._socket = self._pid = self._closing = None

    def _listening(self) -> socket.socket | None:
        if self._pid == os.getpid():
            return self._socket
        self._pid, self._socket = os.getpid(), None
        if self.directory is None:
            return None
        path = self.directory / str(self._pid)
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # left by a dead process that had this pid
            listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            listening.bind(str(path))
        except OSError:
            return None  # not here: the journal looks at the database every FLUSH_S, as without a doorbell
        self._socket, self._closing = listening, weakref.finalize(self, _unbind, listening, path, self._pid)
        return listening


def _unbind(listening: socket.socket, path: Path, pid: int) -> None:
    listening.close()
    if os.getpid() == pid:  # not a forked child's: the socket is its parent's
        with contextlib.suppress(OSError):
            path.unlink()


# By engine, as the disk-full mark: engines of one database share a directory, hence each other's rings.
_doorbells: weakref.WeakKeyDictionary[sa.Engine, Doorbell] = weakref.WeakKeyDictionary()


def doorbell(engine: sa.Engine) -> Doorbell:
    """The doorbell of `engine`'s database on this host."""
    found = _doorbells.get(engine)
    if found is None:
        found = _doorbells[engine] = Doorbell(doorbell_directory(engine.url))
    return found


def doorbell_directory(url: sa.URL) -> Path | None:
    """Where the listeners of the database at `url` bind; None for a database no other process can open."""
    if url.get_backend_name() == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        named = os.path.abspath(database)
    else:
        named = url.render_as_string(hide_password=True)  # never by its password
    # Short: a Unix socket's path holds at most 107 bytes.
    digest = hashlib.sha256(named.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"session-store-{digest}"
