"""What the current request or call is, for logs and metrics below the web layer (no Flask here).

The web layer sets `request_id` for each request (from X-Request-ID, or a new one); the services
read it when they log, so one id ties the access line to every cause logged for that request.
A ContextVar is per thread and, under gevent, per greenlet.
"""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
