"""Checks applied to every value a caller hands the service; each failure names its field."""

from __future__ import annotations

import json
import re
from typing import Any

from backend.services.errors import InvalidInput
from config.settings import Limits

ROLES = ("user", "assistant", "system", "tool")
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]+")


class Problems:
    """Collects problems per field, then raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        """Record one problem with field `name`."""
        self.errors.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        """Raise InvalidInput naming every field with a problem."""
        if self.errors:
            raise InvalidInput(self.errors)


def _not_unicode(text: str) -> bool:
    """True for text the database cannot store: lone surrogates (JSON allows "\\ud800"; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


NOT_UNICODE = "must be valid Unicode (no lone surrogates)"


def check_lookup_id(problems: Problems, session_id: Any) -> None:
    """An id used to find a session: any non-empty string, so legacy ids keep working."""
    if not isinstance(session_id, str) or not session_id:
        problems.add("session_id", "must be a non-empty string")
    elif "\x00" in session_id:
        problems.add("session_id", "must not contain NUL characters")
    elif _not_unicode(session_id):
        problems.add("session_id", NOT_UNICODE)


def check_new_session_id(problems: Problems, session_id: str, limits: Limits) -> None:
    """An id for a session about to be created."""
    if len(session_id) > limits.max_session_id_chars:
        problems.add("session_id", f"must be at most {limits.max_session_id_chars} characters")
    elif not SESSION_ID_PATTERN.fullmatch(session_id):
        problems.add("session_id", "may contain only letters, digits and . _ : -")


def check_role(problems: Problems, role: Any) -> None:
    """One of the four roles."""
    if role not in ROLES:
        problems.add("role", f"must be one of {', '.join(ROLES)}")


def check_content(problems: Problems, content: Any, limits: Limits) -> None:
    """A non-empty string up to the configured length."""
    if not isinstance(content, str):
        problems.add("content", "must be a string")
    elif not content:
        problems.add("content", "must not be empty")
    elif len(content) > limits.max_content_chars:
        problems.add("content", f"must be at most {limits.max_content_chars} characters")
    elif "\x00" in content:
        problems.add("content", "must not contain NUL characters")
    elif _not_unicode(content):
        problems.add("content", NOT_UNICODE)


def check_metadata(problems: Problems, metadata: Any, limits: Limits, name: str = "metadata") -> str | None:
    """A JSON-serialisable dict whose serialised form fits the configured size; returns that form."""
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
        problems.add(name, "must not contain NUL characters")
    elif _not_unicode(encoded):
        problems.add(name, NOT_UNICODE)
    elif len(encoded.encode()) > limits.max_metadata_bytes:
        problems.add(name, f"must be at most {limits.max_metadata_bytes} bytes as JSON")
    return encoded


def check_fingerprint(problems: Problems, fingerprint: Any, limits: Limits) -> None:
    """None, or a string up to the configured length."""
    if fingerprint is None:
        return
    if not isinstance(fingerprint, str):
        problems.add("device_fingerprint", "must be a string")
    elif len(fingerprint) > limits.max_fingerprint_chars:
        problems.add("device_fingerprint", f"must be at most {limits.max_fingerprint_chars} characters")
    elif "\x00" in fingerprint:
        problems.add("device_fingerprint", "must not contain NUL characters")
    elif _not_unicode(fingerprint):
        problems.add("device_fingerprint", NOT_UNICODE)


def check_positive_int(problems: Problems, name: str, value: Any, maximum: int | None = None) -> None:
    """An int >= 1 (and <= maximum when given); bool is not an int here."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.add(name, "must be a positive integer")
    elif maximum is not None and value > maximum:
        problems.add(name, f"must be at most {maximum}")
