"""ContextService: what the agent reads of a conversation (the context window, summaries) and how a user takes
the conversation back (rewind, for regenerate and edit). SessionService (services.session) adds the sessions."""

from __future__ import annotations

from collections.abc import Iterable

from backend.services import context, rewind
from backend.services.messages import MessageService
from backend.store.records import ContextWindow, Rewound, SummaryRecord


class ContextService(MessageService):
    """The context window, summaries and rewinds of sessions; `owner` scopes every call as in SessionService."""

    def get_context(self, session_id: str, max_tokens: int, *, owner: str | None = None) -> ContextWindow:
        """The newest messages that fit `max_tokens` tokens (TOKENIZER), oldest first, never starting inside a tool
        exchange (an assistant message and its tool results stay or go together); `truncated` when older
        messages were left out. Each message's count was kept when it was written: the read costs the same at
        any history length."""
        return context.get_context(self.uow, self.count_tokens, session_id, max_tokens, owner)

    def rewind(
        self,
        session_id: str,
        after_message_id: int,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
        if_match: str | Iterable[str] | None = None,
    ) -> Rewound:
        """Take every message after `after_message_id` (a message of the history, else InvalidInput) out of the
        history and the context: they stay stored as superseded (get_history_page(include_superseded=True)),
        and message_count counts the history. TurnInProgress while a turn runs on the session."""
        return rewind.rewind(
            self.uow,
            self.keys,
            session_id,
            after_message_id,
            owner=owner,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )

    def add_summary(
        self, session_id: str, content: str, covers_through: int, *, owner: str | None = None
    ) -> SummaryRecord:
        """Store a summary of the conversation up to and including message `covers_through` (an id of this
        session's, else InvalidInput). get_context then puts the summary that covers most first, and only the
        messages after it; no message is changed or deleted, and the history does not show the summary."""
        return context.add_summary(self.uow, self.count_tokens, self.limits, session_id, content, covers_through, owner)
