"""gunicorn settings from the environment: HOST, PORT, WEB_CONCURRENCY; access log to stdout."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
errorlog = "-"
# Above AGENT_TIMEOUT_S so that a slow agent ends in our 502, not in a killed worker.
timeout = int(float(os.environ.get("AGENT_TIMEOUT_S", "30"))) + 30
graceful_timeout = 30
# No preload: each worker imports the app itself, so no engine or socket is ever shared
# across fork (backend.db keys engines by process id as a second guard).
preload_app = False
