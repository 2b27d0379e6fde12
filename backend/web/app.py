"""The Flask class of the app: Flask's own, with its per-call coroutine check answered once per function."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import flask

# Functions made per request (flask.after_this_request) would fill the cache: it starts over past this many.
MAX_KNOWN_FUNCTIONS = 4096


class SessionStoreFlask(flask.Flask):
    """Flask asks of every hook and view, on every request, whether it is a coroutine function (about 7 times a
    request here, 6% of a POST's CPU in a profile). The answer never changes for a function: it is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A plain dict: a weak-keyed one made a weak reference on every lookup (3% of /healthz's instructions).
        self._coroutine_functions: dict[Callable, bool] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        # A view method arrives bound to a new view object per request: it is keyed by its function, so the
        # cache holds one entry per function the app has, whatever the traffic.
        key = getattr(func, "__func__", func)
        is_coroutine = self._coroutine_functions.get(key)
        if is_coroutine is None:
            if len(self._coroutine_functions) >= MAX_KNOWN_FUNCTIONS:
                self._coroutine_functions.clear()
            is_coroutine = self._coroutine_functions[key] = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func
