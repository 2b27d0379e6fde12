"""Search over message content, newest first: SQLite's FTS5 table and PostgreSQL's tsvector index (revision 0007).

Both indexes are kept by the database itself in the transaction of every write (SQLite: triggers; PostgreSQL: an
expression index), so the repositories that write messages need not know about them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from backend.store.records import SearchHit, SearchQuery, SearchTerm
from backend.store.repositories import Repository
from backend.store.sql import MESSAGE, live, messages, sessions

# The same as revision 0007: the first this many characters of a message are searched (PostgreSQL's tsvector
# holds at most 1 MB).
SEARCHED_CHARS = 100_000
# A snippet's matches are marked with two control characters, which the service turns into escaped HTML.
MARK_START, MARK_END = "\x02", "\x03"
SNIPPET_WORDS = 24

fts = sa.table("message_search", sa.column("rowid", sa.Integer))
fts_match = sa.literal_column("message_search").op("MATCH")
fts_snippet = sa.func.snippet(sa.literal_column("message_search"), 0, MARK_START, MARK_END, "…", SNIPPET_WORDS)

SIMPLE = sa.literal_column("'simple'::regconfig")
# The indexed expression (revision 0007: to_tsvector of the first SEARCHED_CHARS characters, with its true cost).
document = sa.func.message_search_document(messages.c.content)
no_parallel_workers = sa.text("SET max_parallel_workers_per_gather = 0")
parallel_workers_as_configured = sa.text("RESET max_parallel_workers_per_gather")
HEADLINE_OPTIONS = (
    f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords={SNIPPET_WORDS}, MinWords=8, '
    'MaxFragments=2, FragmentDelimiter=" … "'
)


def fts5_query(query: SearchQuery) -> str:
    """The FTS5 query text: every word quoted (so nothing in it is FTS5 syntax), every operator parenthesised."""

    def phrase(term: SearchTerm) -> str:
        return '"' + " ".join(term.words) + '"'

    groups = []
    for group in query.groups:
        wanted = [phrase(term) for term in group if not term.excluded]
        text = "(" + " AND ".join(wanted) + ")"
        for term in group:
            if term.excluded:
                text = f"({text} NOT {phrase(term)})"
        groups.append(text)
    return " OR ".join(groups)


def tsquery(query: SearchQuery, params: dict) -> sa.ColumnElement:
    """The tsquery of `query`, each term a bound phraseto_tsquery of its words (so nothing in it is tsquery
    syntax). A group one of whose wanted terms PostgreSQL reduces to nothing (a word it
    ignores, such as "²") matches nothing, as on SQLite, rather than only its exclusions."""

    def phrase(term: SearchTerm) -> sa.ColumnElement:
        name = f"term_{len(params)}"
        params[name] = " ".join(term.words)
        return sa.func.phraseto_tsquery(SIMPLE, sa.bindparam(name))

    combined = None
    for group in query.groups:
        wanted, present = None, []
        for term in group:
            part = phrase(term)
            if not term.excluded:
                present.append(sa.func.numnode(part) > 0)
            part = sa.func.tsquery_not(part) if term.excluded else part
            wanted = part if wanted is None else sa.func.tsquery_and(wanted, part)
        # An empty tsquery matches nothing, and joined by OR it leaves the other groups as they are.
        wanted = sa.case((sa.and_(*present), wanted), else_=sa.cast("", postgresql.TSQUERY))
        combined = wanted if combined is None else sa.func.tsquery_or(combined, wanted)
    return combined


class SearchRepository(Repository):
    """Messages whose content matches a query."""

    __slots__ = ()

    def find(
        self,
        query: SearchQuery,
        limit: int,
        before_id: int | None = None,
        *,
        session_id: str | None = None,
        role: str | None = None,
        owner: str | None = None,
    ) -> list[SearchHit]:
        """Up to `limit` live messages matching `query`, newest first (ids below `before_id`), each with its
        snippet; only `owner`'s sessions when given."""
        params: dict = {}
        filters = [live]
        if before_id is not None:
            filters.append(messages.c.id < sa.bindparam("before_id"))
            params["before_id"] = before_id
        if session_id is not None:
            filters.append(messages.c.session_id == sa.bindparam("session_id"))
            params["session_id"] = session_id
        if role is not None:
            filters.append(messages.c.role == sa.bindparam("role"))
            params["role"] = role
        if owner is not None:
            owned = sa.select(sessions.c.session_id).where(sessions.c.owner == sa.bindparam("owner"))
            filters.append(messages.c.session_id.in_(owned.scalar_subquery()))
            params["owner"] = owner
        if self.tx.dialect.name == "sqlite":
            rows = self.tx.execute(_sqlite_statement(query, filters, limit, params), params).all()
        else:
            rows = self._without_parallel_workers(_postgresql_statement(query, filters, limit, params), params)
        return [SearchHit(message=MESSAGE.from_result_row(row), snippet=row[-1] or "") for row in rows]

    def _without_parallel_workers(self, statement, params: dict) -> list:
        # A search is a short walk (a few ms); starting parallel workers for it cost 10-30 ms more, and put the
        # two-word p99 at 1,000,000 messages at 62 ms instead of 32. Reads run in autocommit: SET, then RESET.
        self.tx.execute(no_parallel_workers)
        try:
            return self.tx.execute(statement, params).all()
        finally:
            self.tx.execute(parallel_workers_as_configured)


def _sqlite_statement(query: SearchQuery, filters: list, limit: int, params: dict) -> sa.Select:
    # The FTS5 table drives: it yields its matches newest first and the join stops at `limit`.
    params["q"] = fts5_query(query)
    return (
        sa.select(*MESSAGE.columns, fts_snippet)
        .select_from(fts.join(messages, messages.c.id == fts.c.rowid))
        .where(fts_match(sa.bindparam("q")), *filters)
        .order_by(fts.c.rowid.desc())
        .limit(limit)
    )


def _postgresql_statement(query: SearchQuery, filters: list, limit: int, params: dict) -> sa.Select:
    matched = tsquery(query, params)
    found = (
        sa.select(*MESSAGE.columns)
        .where(document.op("@@")(matched), *filters)
        .order_by(messages.c.id.desc())
        .limit(limit)
        .subquery()
    )
    # The headline is made for the page's rows only, after the limit.
    searched = sa.func.left(found.c.content, sa.literal_column(str(SEARCHED_CHARS)))
    headline = sa.func.ts_headline(SIMPLE, searched, matched, HEADLINE_OPTIONS)
    return sa.select(*found.c, headline).order_by(found.c.id.desc())
