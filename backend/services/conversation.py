"""ContextService: what the agent reads of a conversation (the context window, summaries, compaction) and how a
user takes the conversation back (rewind, for regenerate and edit). SessionService (services.session) adds the
sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from backend.services import compaction, context, rewind
from backend.services.messages import MessageService
from backend.store.records import ContextWindow, MessageRecord, NewMessage, Rewound, SummaryRecord


class ContextService(MessageService):
    """The context window, summaries, compactions and rewinds of sessions; `owner` scopes every call as in
    SessionService."""

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

    def replace_history(
        self,
        session_id: str,
        messages: Iterable[dict],
        *,
        replacing: Sequence[MessageRecord] | None = None,
        retire_prefix: Callable[[MessageRecord], bool] | None = None,
        owner: str | None = None,
    ) -> list[MessageRecord] | None:
        """Compaction: take the whole history out (or, with `replacing`, exactly those newest messages, oldest
        first, as read) and append `messages` (each {"role", "content", "metadata"?}, by the rules of
        save_messages) in its place, in one transaction. Nothing is deleted: what is taken out stays stored as
        superseded, as a rewind leaves it. None, with nothing changed, when `replacing` is no longer the
        session's newest messages (a write landed since they were read). With `retire_prefix`, the oldest
        messages before `replacing` are taken out too while it is true of them (expired items). TurnInProgress
        while a turn runs on the session."""
        news = [NewMessage(session_id=session_id, **message) for message in messages]
        return compaction.replace_history(
            self.uow,
            self.limits,
            news,
            session_id,
            replacing=replacing,
            retire_prefix=retire_prefix,
            owner=owner,
        )
