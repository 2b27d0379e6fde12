"""Summaries of conversations: written by an agent or a job, read by the context window."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from backend.store.records import SummaryRecord
from backend.store.repositories import Repository
from backend.store.sql import SUMMARY, live, messages, summaries

insert_summary = summaries.insert().returning(summaries.c.id)
# The summary that covers most of the session (of two covering as much, the newer): the one the context uses.
covering_most = (
    sa.select(*SUMMARY.columns, summaries.c.token_count)
    .where(summaries.c.session_id == sa.bindparam("sid"))
    # Only a summary of the history as it is: one that covers a message a rewind took out is stale.
    .where(sa.exists().where(messages.c.id == summaries.c.covers_through, live))
    .order_by(summaries.c.covers_through.desc(), summaries.c.id.desc())
    .limit(1)
)
delete_of_sessions = summaries.delete().where(summaries.c.session_id.in_(sa.bindparam("sids", expanding=True)))


class SummaryRepository(Repository):
    """The summaries table."""

    __slots__ = ()

    def add(self, session_id: str, content: str, covers_through: int, now: datetime, tokens: int) -> SummaryRecord:
        """Store a summary of the session up to and including message `covers_through`."""
        values = {"session_id": session_id, "content": content, "covers_through": covers_through, "created_at": now}
        summary_id = self.tx.execute(insert_summary, {**values, "token_count": tokens}).scalar_one()
        return SummaryRecord(id=summary_id, **values)

    def covering_most(self, session_id: str) -> tuple[SummaryRecord, int] | None:
        """The summary the context window uses, with its token count; None when the session has none."""
        row = self.tx.execute(covering_most, {"sid": session_id}).first()
        return None if row is None else (SUMMARY.from_result_row(row), row[-1])

    def delete_of_sessions(self, session_ids: list[str]) -> int:
        """Delete every summary of these sessions; how many."""
        return self.tx.execute(delete_of_sessions, {"sids": session_ids}).rowcount
