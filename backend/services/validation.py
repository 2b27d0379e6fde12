"""The rules on every value a caller hands the service: the one source of them, for Python and HTTP.

Each rule adds a problem naming its field to a Problems; the HTTP schemas run these same rules,
so a message reads the same from Python and over HTTP, and one 422 names every offending field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from backend.services.errors import Problems
from backend.settings import Limits

ROLES = ("user", "assistant", "system", "tool")
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]+")
RESERVED_SESSION_IDS = (".", "..")
AUDIO_TEXT_FIELDS = ("format", "language")
UNKNOWN_FIELD = "Unknown field."
NOT_UNICODE = "must be valid Unicode (no lone surrogates)"
NO_NUL = "must not contain NUL characters"


def _not_unicode(text: str) -> bool:
    """True for text the database cannot store: lone surrogates (JSON allows "\\ud800"; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_text(problems: Problems, name: str, value: str, max_chars: int) -> None:
    if len(value) > max_chars:
        problems.add(name, f"must be at most {max_chars} characters")
    elif "\x00" in value:
        problems.add(name, NO_NUL)
    elif _not_unicode(value):
        problems.add(name, NOT_UNICODE)


def check_lookup_id(
    problems: Problems, session_id: Any, limits: Limits | None = None, name: str = "session_id"
) -> None:
    """An id used to find a session: any non-empty string, so legacy ids keep working."""
    if not isinstance(session_id, str) or not session_id:
        problems.add(name, "must be a non-empty string")
    elif "\x00" in session_id:
        problems.add(name, NO_NUL)
    elif _not_unicode(session_id):
        problems.add(name, NOT_UNICODE)


def new_session_id_problem(session_id: str, limits: Limits) -> str | None:
    """Why `session_id` may not name a new session, or None when it may."""
    if len(session_id) > limits.max_session_id_chars:
        return f"must be at most {limits.max_session_id_chars} characters"
    if not SESSION_ID_PATTERN.fullmatch(session_id):
        return "may contain only letters, digits and . _ : -"
    if session_id in RESERVED_SESSION_IDS:
        return "must not be . or .."
    return None


def check_role(problems: Problems, role: Any, limits: Limits | None = None, name: str = "role") -> None:
    """One of the four roles."""
    if role not in ROLES:
        problems.add(name, f"must be one of: {', '.join(ROLES)}")


def check_content(problems: Problems, content: Any, limits: Limits, name: str = "content") -> None:
    """A non-empty string up to the configured length."""
    if not isinstance(content, str):
        problems.add(name, "must be a string")
    elif not content:
        problems.add(name, "must not be empty")
    else:
        _check_text(problems, name, content, limits.max_content_chars)


def check_metadata(problems: Problems, metadata: Any, limits: Limits, name: str = "metadata") -> str | None:
    """None, or a JSON-serialisable object whose serialised form fits the configured size; returns that form."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        problems.add(name, "must be an object")
        return None
    try:
        # The same compact form types.stored_metadata writes, so a caller may store it as it is.
        encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        problems.add(name, "must be JSON-serialisable (strings, numbers, booleans, null, lists, objects)")
        return None
    if "\\u0000" in encoded:
        problems.add(name, NO_NUL)
    elif _not_unicode(encoded):
        problems.add(name, NOT_UNICODE)
    elif len(encoded.encode()) > limits.max_metadata_bytes:
        problems.add(name, f"must be at most {limits.max_metadata_bytes} bytes as JSON")
    return encoded


def check_fingerprint(problems: Problems, fingerprint: Any, limits: Limits, name: str = "device_fingerprint") -> None:
    """None, or a string up to the configured length."""
    if fingerprint is None:
        return
    if not isinstance(fingerprint, str):
        problems.add(name, "must be a string")
    else:
        _check_text(problems, name, fingerprint, limits.max_fingerprint_chars)


def check_owner(problems: Problems, owner: Any, limits: Limits, name: str = "owner") -> None:
    """None, or who a session belongs to (a token's `sub`): a non-empty string up to the configured length."""
    if owner is None:
        return
    if not isinstance(owner, str) or not owner:
        problems.add(name, "must be a non-empty string")
    else:
        _check_text(problems, name, owner, limits.max_owner_chars)


def check_audio(problems: Problems, audio: Any, limits: Limits, name: str = "audio") -> None:
    """None, or what the client knows of a recording: format and language (text), duration_ms (an int >= 0)."""
    if audio is None:
        return
    if check_metadata(problems, audio, limits, name) is None:
        return
    for key, value in audio.items():
        where = f"{name}.{key}"
        if key in AUDIO_TEXT_FIELDS:
            if not isinstance(value, str):
                problems.add(where, "must be a string")
        elif key == "duration_ms":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.add(where, "must be an integer, 0 or more")
        else:
            problems.add(where, UNKNOWN_FIELD)


def check_positive_int(problems: Problems, name: str, value: Any, maximum: int | None = None) -> None:
    """An int >= 1 (and <= maximum when given); bool is not an int here."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.add(name, "must be a positive integer")
    elif maximum is not None and value > maximum:
        problems.add(name, f"must be at most {maximum}")


def check_page_limit(problems: Problems, limit: Any, limits: Limits, name: str = "limit") -> None:
    """How many items a page holds: 1 to the configured page maximum."""
    check_positive_int(problems, name, limit, limits.max_page)


def check_before(problems: Problems, before: Any, limits: Limits | None = None, name: str = "before") -> None:
    """None, or the id a page of history ends before."""
    if before is not None:
        check_positive_int(problems, name, before)


Rule = Callable[..., Any]

# The rules by the name a schema uses for them: (problems, value, limits, field name).
MAX_IDEMPOTENCY_KEY_CHARS = 255


def check_idempotency_key(
    problems: Problems, key: Any, limits: Limits | None = None, name: str = "idempotency_key"
) -> None:
    """None, or 1 to 255 printable ASCII characters (the draft's key is a structured-field string)."""
    if key is None:
        return
    if not isinstance(key, str) or not key:
        problems.add(name, "must be a non-empty string")
    elif len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        problems.add(name, f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    elif not all(" " <= ch <= "~" for ch in key):
        problems.add(name, "must be printable ASCII")


# Event ids (turn_events.seq) and heard_chars are kept in 32-bit integer columns.
MAX_STORED_INT = 2**31 - 1


def _stored_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= MAX_STORED_INT


def check_heard_chars(problems: Problems, heard_chars: Any, limits: Limits | None = None, name: str = "heard_chars"):
    """None, or how many characters (Unicode code points) of a reply the user heard: 0 to MAX_STORED_INT."""
    if heard_chars is not None and not _stored_int(heard_chars):
        problems.add(name, f"must be an integer from 0 to {MAX_STORED_INT} (Unicode code points heard)")


def check_event_id(problems: Problems, event_id: Any, limits: Limits | None = None, name: str = "after") -> None:
    """None, or the id of the event a turn's stream resumes after (Last-Event-ID): 0 to MAX_STORED_INT."""
    if event_id is not None and not _stored_int(event_id):
        problems.add(name, f"must be an event id: an integer from 0 to {MAX_STORED_INT}")


def check_id(session_id: Any) -> None:
    """InvalidInput unless `session_id` can name a session."""
    problems = Problems()
    check_lookup_id(problems, session_id)
    problems.raise_if_any()


def check_page(session_id: Any, limit: Any, before: Any, limits: Limits) -> None:
    """InvalidInput naming every bad argument of a history read."""
    problems = Problems()
    check_lookup_id(problems, session_id)
    check_page_limit(problems, limit, limits)
    check_before(problems, before)
    problems.raise_if_any()


def check_new_message(new: Any, limits: Limits, idempotency_key: Any = None) -> None:
    """InvalidInput naming every bad field of a NewMessage (and of its idempotency key)."""
    problems = Problems()
    check_lookup_id(problems, new.session_id)
    check_role(problems, new.role)
    check_content(problems, new.content, limits)
    check_metadata(problems, new.metadata, limits)
    check_idempotency_key(problems, idempotency_key)
    problems.raise_if_any()


RULES: dict[str, Rule] = {
    "session_id": check_lookup_id,
    "role": check_role,
    "content": check_content,
    "metadata": check_metadata,
    "device_fingerprint": check_fingerprint,
    "owner": check_owner,
    "audio": check_audio,
    "limit": check_page_limit,
    "before": check_before,
    "idempotency_key": check_idempotency_key,
    "heard_chars": check_heard_chars,
    "last_event_id": check_event_id,
}
