"""Whether a socket has something to read right now: one poll(2) that neither waits nor lets other greenlets run.

Under gevent, monkey-patching replaces select.poll with gevent's, which hands its loop the turn even with no
timeout: the caller goes to the back of the queue of every greenlet ready to run (with 200 turns streaming, a
pooled PostgreSQL connection's checkout waited p99 18 ms for it), and starts a watcher at each call (12.7 us
against 0.6 us). A poll with no timeout never blocks, so the standard library's own serves under gevent too.
"""

from __future__ import annotations

import select
from collections.abc import Callable

try:
    from gevent.monkey import get_original

    _poll = get_original("select", "poll")
except ImportError:  # gevent is not installed: nothing replaced select.poll
    _poll = select.poll

_READABLE_OR_CLOSED = select.POLLIN | select.POLLHUP | select.POLLERR


def readable_check(target) -> Callable[[], bool]:
    """A check, to call as often as needed, whether `target` (a socket or a file descriptor) is readable, closed
    or in error now."""
    poller = _poll()
    poller.register(target, _READABLE_OR_CLOSED)
    return lambda: bool(poller.poll(0))
