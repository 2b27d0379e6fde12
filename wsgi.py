"""WSGI entry point for gunicorn: `gunicorn -c config/gunicorn.conf.py wsgi:app`."""

from backend import create_app
from backend.observability.logs import configure_logging_unless_configured

configure_logging_unless_configured()  # under gunicorn, its config already set up the same logging
app = create_app()
