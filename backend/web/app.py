"""The Flask class of the app: Flask's own, with its per-call coroutine check answered once per function."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

import flask


class SessionStoreFlask(flask.Flask):
    """Flask asks of every hook and view, on every request, whether it is a coroutine function (about 14 times a
    request here, 6% of a POST's CPU in a profile). The answer never changes for a function: it is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Weak keys: a function made per request (flask.after_this_request) leaves with its request.
        self._coroutine_functions: weakref.WeakKeyDictionary[Callable, bool] = weakref.WeakKeyDictionary()

    def ensure_sync(self, func: Callable) -> Callable:
        # A view method arrives bound to a new view object per request: it is keyed by its function, so the
        # cache holds one entry per function the app has, whatever the traffic.
        key = getattr(func, "__func__", func)
        is_coroutine = self._coroutine_functions.get(key)
        if is_coroutine is None:
            is_coroutine = self._coroutine_functions[key] = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func
