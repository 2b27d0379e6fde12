"""The rule of a batch of messages: each item by the rules of one message, named by its index."""

from __future__ import annotations

from typing import Any

from backend.services.validation import (
    Problems,
    check_content,
    check_idempotency_key,
    check_lookup_id,
    check_metadata,
    check_role,
)
from backend.settings import Limits


def check_new_messages(news: Any, limits: Limits, idempotency_key: Any = None) -> None:
    """InvalidInput naming every bad item of a batch by its index, {"messages": {"2": {"content": [...]}}}, and
    a batch that is empty or longer than limits.max_batch_messages."""
    problems = Problems()
    check_idempotency_key(problems, idempotency_key)
    if not news:
        problems.add("messages", "must hold at least 1 message")
    elif len(news) > limits.max_batch_messages:
        problems.add("messages", f"must hold at most {limits.max_batch_messages} messages (MAX_BATCH_MESSAGES)")
    else:
        check_lookup_id(problems, news[0].session_id)
        by_item = {}
        for index, new in enumerate(news):
            item = Problems()
            check_role(item, new.role)
            check_content(item, new.content, limits)
            check_metadata(item, new.metadata, limits)
            if item.errors:
                by_item[str(index)] = item.errors
        if by_item:
            problems.errors["messages"] = by_item
    problems.raise_if_any()
