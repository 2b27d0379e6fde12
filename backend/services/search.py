"""Search over message content: the query's syntax and rules, keyset pages, snippets as safe HTML.

The syntax is the one web search boxes use: words are all required, `"a phrase"` keeps its words together and in
order, `-word` (or `-"a phrase"`) leaves out the messages that hold it, and `OR` (in capitals) joins alternatives.
Letters and digits make words; everything else only separates them, so no input is syntax of the database's own.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from backend.services.cursors import NOT_A_CURSOR, decode_cursor, encode_cursor
from backend.services.errors import InvalidInput
from backend.services.validation import Problems, check_lookup_id, check_owner, check_page_limit, check_role
from backend.settings import Limits
from backend.store.records import MessageRecord, SearchQuery, SearchTerm
from backend.store.repositories.messages import MAX_ROW_ID
from backend.store.repositories.search import MARK_END, MARK_START
from backend.store.unit_of_work import UnitOfWork

MAX_QUERY_CHARS = 500
MAX_TERMS = 16
DEFAULT_LIMIT = 20
_TOKENS = re.compile(r'(-?)"([^"]*)("?)|(\S+)')
_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A hit as callers see it: the message, and its snippet as HTML (the text escaped, matches in <mark>)."""

    message: MessageRecord
    snippet: str

    @property
    def session_id(self) -> str:
        """The session the message belongs to."""
        return self.message.session_id


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Hits newest first; next_cursor fetches the older ones (None when there are none)."""

    hits: list[SearchResult]
    next_cursor: str | None


def parse_query(problems: Problems, q, name: str = "q") -> SearchQuery | None:
    """The SearchQuery of `q`, or None after adding to `problems` what is wrong with it."""
    if not isinstance(q, str) or not q.strip():
        problems.add(name, "must contain a word to search for")
        return None
    if len(q) > MAX_QUERY_CHARS:
        problems.add(name, f"must be at most {MAX_QUERY_CHARS} characters")
        return None
    groups: list[list[SearchTerm]] = [[]]
    joined_by_or = False
    for match in _TOKENS.finditer(q):
        minus, quoted, closing, bare = match.groups()
        if bare == "OR":
            if not groups[-1] or joined_by_or:
                problems.add(name, "OR must stand between two terms")
                return None
            groups.append([])
            joined_by_or = True
            continue
        if quoted is not None and not closing:
            problems.add(name, 'has a quote (") that is not closed')
            return None
        excluded = bool(minus) or (bare is not None and bare.startswith("-"))
        words = tuple(_WORDS.findall(quoted if quoted is not None else bare))
        if words:
            groups[-1].append(SearchTerm(words, excluded))
            joined_by_or = False
    if joined_by_or:
        problems.add(name, "OR must stand between two terms")
        return None
    if sum(len(group) for group in groups) > MAX_TERMS:
        problems.add(name, f"must have at most {MAX_TERMS} terms")
        return None
    if not any(groups):
        problems.add(name, "must contain a word to search for (letters or digits)")
        return None
    if any(all(term.excluded for term in group) for group in groups):
        problems.add(name, "needs a word to find beside each excluded one (-word leaves out, it does not find)")
        return None
    return SearchQuery(tuple(tuple(group) for group in groups))


def snippet_html(marked: str) -> str:
    """The store's snippet as HTML: every character escaped, each match in <mark></mark>."""
    parts, inside = [], False
    for piece in re.split(f"([{MARK_START}{MARK_END}])", marked):
        if piece == MARK_START:
            inside = True
        elif piece == MARK_END:
            inside = False
        elif piece:
            escaped = html.escape(piece, quote=True)
            parts.append(f"<mark>{escaped}</mark>" if inside else escaped)
    return "".join(parts)


def search(
    uow: UnitOfWork,
    limits: Limits,
    q: str,
    *,
    owner: str | None = None,
    session_id: str | None = None,
    role: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> SearchPage:
    """Live messages matching `q` (only in `owner`'s sessions when given), newest first, one keyset page."""
    problems = Problems()
    query = parse_query(problems, q)
    check_page_limit(problems, limit, limits)
    check_owner(problems, owner, limits)
    if session_id is not None:
        check_lookup_id(problems, session_id)
    if role is not None:
        check_role(problems, role)
    before_id = None
    if cursor is not None:
        try:
            values = decode_cursor(cursor)
        except InvalidInput:
            values = None
        if (
            values is None
            or len(values) != 1
            or not isinstance(values[0], int)
            or isinstance(values[0], bool)
            or not 0 < values[0] <= MAX_ROW_ID  # a cursor we issued holds a message id
        ):
            problems.add("cursor", NOT_A_CURSOR)
        else:
            before_id = values[0]
    problems.raise_if_any()
    with uow.read() as store:
        found = store.search.find(query, limit + 1, before_id, session_id=session_id, role=role, owner=owner)
    more, found = len(found) > limit, found[:limit]
    hits = [SearchResult(hit.message, snippet_html(hit.snippet)) for hit in found]
    return SearchPage(hits, encode_cursor([found[-1].message.id]) if more else None)
