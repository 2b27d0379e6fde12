"""Rate limits on reads, writes and turns, counted by the `limits` library in Redis (or in memory, for development)."""

from __future__ import annotations

import logging
import math
import os
import time

import flask
import limits
from flask_smorest import abort
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from backend.settings import Config

log = logging.getLogger(__name__)

READS, WRITES, TURNS = "reads", "writes", "turns"
TURN_ENDPOINTS = {"chat.chat", "voice.voice"}
READ_METHODS = {"GET", "HEAD"}
MEMORY = "memory://"
# A Redis that stops answering must not hold a worker forever (redis-py waits without limit by default).
REDIS_TIMEOUTS = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}


def category(request: flask.Request) -> str:
    """What a request costs: a turn (chat, voice), a read (GET, HEAD) or a write (anything else)."""
    if request.endpoint in TURN_ENDPOINTS:
        return TURNS
    return READS if request.method in READ_METHODS else WRITES


class RateLimits:
    """RATE_LIMIT_READS / _WRITES / _TURNS for this app; the counts live in RATE_LIMIT_STORAGE_URL."""

    def __init__(self, config: Config):
        # Parsed now: a limit that is not in the `limits` notation stops the app at start.
        configured = {READS: config.RATE_LIMIT_READS, WRITES: config.RATE_LIMIT_WRITES, TURNS: config.RATE_LIMIT_TURNS}
        self.items = {name: limits.parse(value) for name, value in configured.items() if value}
        self.storage_url = config.RATE_LIMIT_STORAGE_URL or MEMORY
        self.prefix = config.RATE_LIMIT_KEY_PREFIX
        self._limiter: MovingWindowRateLimiter | None = None
        self._pid: int | None = None

    def limiter(self) -> MovingWindowRateLimiter:
        """This process's limiter (gunicorn forks after import: no Redis connection is shared across a fork)."""
        if self._pid != os.getpid():
            # A moving window: never more than N in any span of the period, even across a window edge.
            options = REDIS_TIMEOUTS if self.storage_url.startswith(("redis", "rediss")) else {}
            storage = storage_from_string(self.storage_url, wrap_exceptions=True, **options)
            self._limiter = MovingWindowRateLimiter(storage)
            self._pid = os.getpid()
        return self._limiter

    def check_reachable(self) -> None:
        """503 when limits are configured and their storage does not answer (then every limited request would
        answer 503 too): for the readiness probe, which said 200 meanwhile."""
        if self.items and not self.limiter().storage.check():
            abort(
                503,
                message="the rate-limit store (RATE_LIMIT_STORAGE_URL) does not answer",
                headers={"Retry-After": "5"},
            )

    def check(self, request: flask.Request, key: str) -> None:
        """Count `request` for `key`; 429 with Retry-After when it is over its limit, 503 when the counts are
        unreachable."""
        name = category(request)
        item = self.items.get(name)
        if item is None:
            return
        identifiers = (self.prefix, name, key)
        try:
            if self.limiter().hit(item, *identifiers):
                return
            reset = self.limiter().get_window_stats(item, *identifiers).reset_time
        except StorageError as exc:  # the storage's own errors (redis.ConnectionError, ...), wrapped by limits
            log.warning("rate-limit storage unreachable: %s", exc.storage_error)
            abort(503, message="the rate-limit store is unreachable; retry later", headers={"Retry-After": "5"})
        retry_after = max(1, math.ceil(reset - time.time()))
        abort(
            429,
            message=f"too many {name}: at most {item}",
            headers={"Retry-After": str(retry_after)},
        )
