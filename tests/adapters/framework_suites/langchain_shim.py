"""A pytest plugin (`-p`) for the langchain-core sdist's chat-history tests: its InMemoryChatMessageHistory is
our SessionChatMessageHistory, each instance a new session in one migrated SQLite file."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence

import langchain_core.chat_history
from langchain_core.messages import BaseMessage

from backend.adapters.langchain import SessionChatMessageHistory
from backend.services.session import SessionService
from backend.settings import Limits
from backend.store.engines import create_engine
from backend.store.migrations import upgrade_to_head

_path = tempfile.mkstemp(suffix=".db")[1]
upgrade_to_head(create_engine(f"sqlite:///{_path}"))
SERVICE = SessionService(f"sqlite:///{_path}", limits=Limits.for_agents())


class StoreBackedChatMessageHistory(SessionChatMessageHistory):
    """InMemoryChatMessageHistory's constructor (optional `messages`) over a new stored session."""

    def __init__(self, messages: Sequence[BaseMessage] | None = None, **_fields):
        super().__init__(f"lc-{uuid.uuid4().hex}", SERVICE, limit=None)
        if messages:
            self.add_messages(list(messages))

    def __eq__(self, other: object) -> bool:
        # The tests compare histories as InMemoryChatMessageHistory's pydantic model does: by their messages.
        if not isinstance(other, langchain_core.chat_history.BaseChatMessageHistory):
            return NotImplemented
        return self.messages == other.messages

    __hash__ = None  # type: ignore[assignment] - equal by content, as the model it stands for


langchain_core.chat_history.InMemoryChatMessageHistory = StoreBackedChatMessageHistory

# By test id, each with why it cannot run against another history; every other test of the two files runs.
DESELECTED = {
    "test_chat_history_deprecated[StoreBackedChatMessageHistory]": "checks InMemoryChatMessageHistory's own "
    "docstring (its deprecation notice), not what a history does",
}


def pytest_collection_modifyitems(config, items):
    """Deselect DESELECTED by test id, printing each with its reason."""
    kept, dropped = [], []
    for item in items:
        (dropped if item.name in DESELECTED else kept).append(item)
    for item in dropped:
        print(f"deselected {item.nodeid}: {DESELECTED[item.name]}")
    items[:] = kept
    config.hook.pytest_deselected(items=dropped)
