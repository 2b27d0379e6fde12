"""The context window: the newest messages of a session that fit a token budget, never starting inside a tool
exchange (an assistant message and the tool results that answer it stay together or go together), after the
summary that covers most of what came before them. Summaries compact without deleting: no message changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from backend.services.errors import InvalidInput, SessionNotFound
from backend.services.idempotency import now
from backend.services.validation import Problems, check_content, check_id, check_positive_int
from backend.settings import Limits
from backend.store.records import ContextWindow, MessageRecord, SummaryRecord
from backend.store.unit_of_work import UnitOfWork

MAX_CONTEXT_TOKENS = 10_000_000
PAGE = 64  # messages read at a time, newest first: a budget reads what it needs, never the whole history
NEWEST = 2**63 - 1


def _units(newest_first: Iterator[tuple[MessageRecord, int]]) -> Iterator[tuple[list[MessageRecord], int]]:
    """(messages oldest first, tokens) of each unit, newest first: a message alone, or an assistant message with
    the tool results after it. Tool results with no assistant message right before them are left out: a model
    refuses a tool result whose call it was not shown."""
    tools: list[tuple[MessageRecord, int]] = []
    for message, tokens in newest_first:
        if message.role == "tool":
            tools.insert(0, (message, tokens))
            continue
        if tools and message.role == "assistant":
            unit = [(message, tokens), *tools]
            tools = []
            yield [m for m, _ in unit], sum(t for _, t in unit)
            continue
        tools = []  # orphans
        yield [message], tokens


def fit(newest_first: Iterator[tuple[MessageRecord, int]], budget: int) -> tuple[list[MessageRecord], int, bool]:
    """The newest whole units within `budget` tokens, oldest first; their tokens; whether older ones were left."""
    chosen: list[list[MessageRecord]] = []
    total = 0
    for unit, tokens in _units(newest_first):
        if total + tokens > budget:
            return [m for unit in reversed(chosen) for m in unit], total, True
        chosen.append(unit)
        total += tokens
    return [m for unit in reversed(chosen) for m in unit], total, False


def get_context(
    uow: UnitOfWork, count_tokens: Callable[[str], int], session_id: str, max_tokens: int, owner: str | None
) -> ContextWindow:
    """See SessionService.get_context. One read transaction; rows written before token counts were kept are
    counted here and their counts stored in a second, short one."""
    check_id(session_id)
    problems = Problems()
    check_positive_int(problems, "max_tokens", max_tokens, MAX_CONTEXT_TOKENS)
    problems.raise_if_any()
    counted: dict[int, int] = {}
    with uow.read() as store:
        if not store.sessions.exists(session_id, owner):  # another owner's session is exactly a missing one
            raise SessionNotFound(session_id)
        summary, summary_tokens = store.summaries.covering_most(session_id) or (None, 0)
        if summary_tokens > max_tokens:  # counted first: when it alone does not fit, nothing does
            return ContextWindow(session_id, [], None, 0, True)
        since = summary.covers_through if summary else 0

        def newest_first() -> Iterator[tuple[MessageRecord, int]]:
            before = NEWEST
            while page := store.context.newest(session_id, before, PAGE):
                for message, tokens in page:
                    if message.id <= since:
                        return  # the summary holds the rest
                    if tokens is None:
                        tokens = counted[message.id] = count_tokens(message.content)
                    yield message, tokens
                before = page[-1][0].id

        messages, tokens, truncated = fit(newest_first(), max_tokens - summary_tokens)
    if counted:
        with uow.write() as store:
            store.context.keep_token_counts(counted)
    return ContextWindow(session_id, messages, summary, summary_tokens + tokens, truncated)


def add_summary(
    uow: UnitOfWork,
    count_tokens: Callable[[str], int],
    limits: Limits,
    session_id: str,
    content: str,
    covers_through: int,
    owner: str | None,
) -> SummaryRecord:
    """See SessionService.add_summary."""
    check_id(session_id)
    problems = Problems()
    check_content(problems, content, limits)
    check_positive_int(problems, "covers_through", covers_through)
    problems.raise_if_any()
    with uow.write() as store:
        if not store.sessions.exists(session_id, owner):
            raise SessionNotFound(session_id)
        if store.messages.get(session_id, covers_through) is None:
            raise InvalidInput({"covers_through": ["must be the id of a message of this session"]})
        return store.summaries.add(session_id, content, covers_through, now(), count_tokens(content))
