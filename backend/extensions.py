"""App-bound singletons: the flask-smorest Api, CORS when configured, and the services of each process."""

from __future__ import annotations

import os

import flask
from flask_cors import CORS
from flask_smorest import Api

from backend.services.agents import load_agent
from backend.services.session import SessionService
from backend.services.token_counts import TokenCounter
from backend.services.turns.service import ChatService
from backend.settings import Config
from backend.store.engines import get_engine
from backend.store.unit_of_work import UnitOfWork
from backend.web.sse import error_data

EXTENSION_KEY = "session_store"


def turn_pool_size(pool_size: int) -> int:
    """The PostgreSQL connections a worker keeps for turns, given POSTGRES_POOL_SIZE: a fifth, at least 1."""
    return max(1, pool_size // 5)


class Services:
    """The services of one app, built on first use in each process: gunicorn forks after import."""

    def __init__(self, config: Config):
        self.config = config
        # Loaded now so that a wrong CHAT_AGENT stops the app at start, not at the first chat.
        self.agent = load_agent(
            config.CHAT_AGENT, config.CHAT_AGENT_URL, config.AGENT_TIMEOUT_S, config.MAX_AGENT_CALLS
        )
        self._pid: int | None = None

    def _build(self) -> None:
        config = self.config
        self.sessions = self._sessions("requests")
        # Turns have a pool of their own: 200 turns arriving at once queue for its connections, while
        # a history read or a health check still finds one free in the other.
        self.chat = ChatService(
            self._sessions("turns"),
            self.agent,
            timeout_s=config.AGENT_TIMEOUT_S,
            history_limit=config.AGENT_HISTORY_LIMIT,
            lease_s=config.TURN_LEASE_S,
            error_body=error_data,
            max_agent_calls=config.MAX_AGENT_CALLS,
            journal_uow=UnitOfWork(self._engine("journal", 1)),
        )
        self._pid = os.getpid()

    def _sessions(self, purpose: str) -> SessionService:
        config = self.config
        # Turns get a fifth as many connections (2 of the default 10): the fewer transactions a burst of turns
        # runs at once, the fewer greenlets each turn of the worker's loop runs, and the sooner a resume or a
        # history read queued behind them is served. With 200 turns at once, 2 finished the burst as soon as 5
        # did and 5 sooner than 10; resumes during the burst waited less (docs/performance.md, "Turns that
        # outlive their connection", fifth session of 2026-12-07). Other requests served more per second with 10.
        pool_size = config.POSTGRES_POOL_SIZE if purpose == "requests" else turn_pool_size(config.POSTGRES_POOL_SIZE)
        return SessionService(
            self._engine(purpose, pool_size),
            limits=config.LIMITS,
            idempotency_ttl_s=config.IDEMPOTENCY_TTL_S,
            turn_events_ttl_s=config.TURN_EVENTS_TTL_S,
            turn_lease_s=config.TURN_LEASE_S,
            tokenizer=config.TOKENIZER,
        )

    def _engine(self, purpose: str, pool_size: int):
        config = self.config
        return get_engine(
            config.DATABASE_URL,
            busy_timeout_s=config.SQLITE_BUSY_TIMEOUT_S,
            synchronous=config.SQLITE_SYNCHRONOUS,
            pool_size=pool_size,
            purpose=purpose,
        )

    def for_this_process(self) -> Services:
        """These services, built for the current process if they are not yet (gunicorn forks after import)."""
        if self._pid != os.getpid():
            self._build()
        return self


def services() -> Services:
    """The services of the current app, in this process."""
    return flask.current_app._get_current_object().extensions[EXTENSION_KEY].for_this_process()


def init_extensions(app: flask.Flask, config: Config) -> Api:
    """Bind a new Api, CORS (only when CORS_ORIGINS lists origins) and the services to `app`; the Api."""
    # One Api per app, not a module-level one: an Api keeps the last app and spec it was bound
    # to, and the tests build many apps in one process.
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    if config.CORS_ORIGINS:
        CORS(app, resources={r"/api/*": {"origins": list(config.CORS_ORIGINS)}})
    app.extensions[EXTENSION_KEY] = Services(config)
    # The tokenizer's file loads when the worker builds its app, before it serves: loaded by the first request
    # instead, it held that request (a stop, in the cross-server test) for 0.2 s. An unknown TOKENIZER fails here.
    TokenCounter(config.TOKENIZER).check()
    return api
