"""Adapters to agent frameworks (optional extras: `pip install 'session-store[langchain]'`, `[openai-agents]`); the
server never imports them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def needs_extra(extra: str, package: str) -> Iterator[None]:
    """Around an adapter's imports of its framework (`package`): without it, a ModuleNotFoundError that names the
    extra to install instead of the bare module name."""
    try:
        yield
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != package:
            raise  # something the framework itself lacks: its own message says more
        raise ModuleNotFoundError(
            f"{error.name} is not installed: this adapter needs the package's '{extra}' extra "
            f"(pip install '/path/to/this/checkout[{extra}]')",
            name=error.name,
        ) from error
