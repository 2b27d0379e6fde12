"""Turns and their events: a turn's state, the stop asked of it, and the events its stream sent."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from backend.models.types import stored_timestamp
from backend.store.records import MessageRecord, SessionRecord
from backend.store.repositories import Repository
from backend.store.sql import MESSAGE, SESSION, TURN, Precompiled, messages, sessions, turn_events, turns
from backend.store.turn_records import TurnEvent, TurnRecord

EVENTS_OF_BATCH = 256  # turns per statement of events_of
_this_turn = turns.c.turn_id == sa.bindparam("tid")
_time = sa.bindparam("now", type_=turns.c.created_at.type)
select_turn = TURN.select().where(_this_turn)
running_on_session = TURN.select().where(turns.c.session_id == sa.bindparam("sid"), turns.c.status == "running")
insert_turn = turns.insert().values(
    turn_id=sa.bindparam("tid"),
    session_id=sa.bindparam("sid"),
    status="running",
    user_message_id=sa.bindparam("mid"),
    stop_requested=False,
    created_at=_time,
)
end_turn = (
    turns.update()
    .where(_this_turn)
    .values(status=sa.bindparam("new_status"), reply_message_id=sa.bindparam("rid"), ended_at=_time)
)
mark_turn = turns.update().where(_this_turn).values(status=sa.bindparam("new_status"))
request_stop = (
    turns.update()
    .where(_this_turn, turns.c.status == "running")
    .values(stop_requested=True, heard_chars=sa.bindparam("heard"))
)
stop_requests = sa.select(turns.c.turn_id, turns.c.heard_chars).where(
    turns.c.turn_id.in_(sa.bindparam("tids", expanding=True)), turns.c.stop_requested.is_(True)
)
insert_event = turn_events.insert().values(
    turn_id=sa.bindparam("tid"), seq=sa.bindparam("seq"), event=sa.bindparam("ev"), data=sa.bindparam("body")
)
# PostgreSQL: all the events in one statement, one column array each. psycopg runs a list of rows as a pipeline
# whose every result waits for gevent's loop: 100 events took 207 loop turns, 5-11 s in a worker whose loop
# was busy with 200 ready greenlets, against 0.1 s for this (docs/performance.md, "Turns that outlive their
# connection"); a journal that far behind left resumes waiting for their events.
_ARRAYS = (("tids", sa.Text), ("seqs", sa.Integer), ("evs", sa.Text), ("bodies", sa.Text))
insert_events_unnested = turn_events.insert().from_select(
    ["turn_id", "seq", "event", "data"],
    sa.select(
        sa.func.unnest(*(sa.bindparam(name, type_=postgresql.ARRAY(kind)) for name, kind in _ARRAYS))
        .table_valued("turn_id", "seq", "event", "data")
        .render_derived()  # AS anon_1(turn_id, seq, event, data)
    ),
)
# Every turn runs these, on the driver's cursor: through SQLAlchemy's execution each took about 170k instructions
# more (bench.instructions, a turn: 4.87 M with them, 4.2 M without).
_insert_turn, _running_on_session, _end_turn, _insert_event, _insert_events_unnested = map(
    Precompiled, (insert_turn, running_on_session, end_turn, insert_event, insert_events_unnested)
)
# A resume's access check in one statement: the session, its turn of that id, the turn's user message. As three
# statements, each waited for its worker's loop: 0.2-0.3 s at p99 apiece on PostgreSQL while 200 turns streamed.
_ACCESS_COLUMNS = (*SESSION.columns, *TURN.columns, *MESSAGE.columns)
_access_from = sessions.outerjoin(turns, sa.and_(_this_turn, turns.c.session_id == sessions.c.session_id)).outerjoin(
    messages, sa.and_(messages.c.id == turns.c.user_message_id, messages.c.session_id == sessions.c.session_id)
)
_this_session = sessions.c.session_id == sa.bindparam("sid")
_session_turn_message = sa.select(*_ACCESS_COLUMNS).select_from(_access_from).where(_this_session)
_EVENT_COLUMNS = (turn_events.c.seq, turn_events.c.event, turn_events.c.data)
_events_after_cursor = sa.and_(turn_events.c.turn_id == sa.bindparam("tid"), turn_events.c.seq > sa.bindparam("after"))
# The same check and, after it, the turn's events after a cursor (a resume on a worker that does not run the turn):
# one statement where two each waited a turn of the worker's loop (p99 27-36 ms apiece on PostgreSQL with 200
# turns streaming). The events come back whatever the check finds; the caller uses them only when it passes.
_session_turn_message_events = sa.union_all(
    sa.select(
        sa.literal_column("0").label("part"),
        *_ACCESS_COLUMNS,
        *(sa.type_coerce(sa.null(), c.type).label(f"event_{c.name}") for c in _EVENT_COLUMNS),
    )
    .select_from(_access_from)
    .where(_this_session),
    sa.select(sa.literal_column("1"), *(sa.null() for _ in _ACCESS_COLUMNS), *_EVENT_COLUMNS).where(
        _events_after_cursor
    ),
).order_by(sa.literal_column("part"), sa.literal_column("event_seq"))
events_after = sa.select(*_EVENT_COLUMNS).where(_events_after_cursor).order_by(turn_events.c.seq)
# Every resume and turn lookup runs one of these, on the driver's cursor like a turn's own statements.
_session_turn_message_run, _session_turn_message_events_run = map(
    Precompiled, (_session_turn_message, _session_turn_message_events)
)

ended_among = sa.select(turns.c.turn_id).where(
    turns.c.turn_id.in_(sa.bindparam("tids", expanding=True)), turns.c.status != "running"
)
last_event = (
    sa.select(turn_events.c.seq, turn_events.c.event, turn_events.c.data)
    .where(turn_events.c.turn_id == sa.bindparam("tid"))
    .order_by(turn_events.c.seq.desc())
    .limit(1)
)


@functools.lru_cache(maxsize=32)
def _events_of(pairs: int) -> sa.Select:
    """The events after a cursor of each of `pairs` turns, in one statement (one index range per turn)."""
    ranges = [
        sa.and_(turn_events.c.turn_id == sa.bindparam(f"t{i}"), turn_events.c.seq > sa.bindparam(f"a{i}"))
        for i in range(pairs)
    ]
    columns = (turn_events.c.turn_id, turn_events.c.seq, turn_events.c.event, turn_events.c.data)
    return sa.select(*columns).where(sa.or_(*ranges)).order_by(turn_events.c.turn_id, turn_events.c.seq)


_turns_of_sessions = sa.select(turns.c.turn_id).where(turns.c.session_id.in_(sa.bindparam("sids", expanding=True)))
delete_events_of_sessions = turn_events.delete().where(turn_events.c.turn_id.in_(_turns_of_sessions))
delete_turns_of_sessions = turns.delete().where(turns.c.session_id.in_(sa.bindparam("sids", expanding=True)))
delete_events_of_ended = turn_events.delete().where(
    turn_events.c.turn_id.in_(sa.select(turns.c.turn_id).where(turns.c.ended_at < _time))
)


class TurnRepository(Repository):
    """The turns table and the events of each turn."""

    __slots__ = ()

    def add(self, turn_id: str, session_id: str, user_message_id: int, now: datetime) -> None:
        """A running turn of the session, answering the stored user message."""
        stored = stored_timestamp(now, self.tx.dialect.name)
        self.tx.run(_insert_turn, {"tid": turn_id, "sid": session_id, "mid": user_message_id, "now": stored})

    def get(self, turn_id: str) -> TurnRecord | None:
        """The turn, or None."""
        row = self.tx.execute(select_turn, {"tid": turn_id}).first()
        return None if row is None else TURN.from_result_row(row)

    def with_session_and_message(
        self, session_id: str, turn_id: str
    ) -> tuple[SessionRecord | None, TurnRecord | None, MessageRecord | None]:
        """The session, its turn `turn_id` (None when the session has none of that id) and the turn's user message,
        read in one statement."""
        row = self.tx.run(_session_turn_message_run, {"sid": session_id, "tid": turn_id}).fetchone()
        return _access(row, self.tx.dialect)

    def with_session_message_and_events(
        self, session_id: str, turn_id: str, after: int
    ) -> tuple[SessionRecord | None, TurnRecord | None, MessageRecord | None, list[TurnEvent]]:
        """As with_session_and_message, and the turn's kept events with an id after `after`, in order: one
        statement. The events are those of the turn id whatever the session: use them only once the check passed."""
        values = {"sid": session_id, "tid": turn_id, "after": after}
        rows = self.tx.run(_session_turn_message_events_run, values).fetchall()
        access_row = rows[0][1 : 1 + len(_ACCESS_COLUMNS)] if rows and rows[0][0] == 0 else None
        events = [TurnEvent.kept(*row[-len(_EVENT_COLUMNS) :]) for row in rows if row[0] == 1]
        return (*_access(access_row, self.tx.dialect), events)

    def running_on(self, session_id: str) -> list[TurnRecord]:
        """The session's turns still marked running (at most one, unless its worker died)."""
        rows = self.tx.run(_running_on_session, {"sid": session_id}).fetchall()
        return [TURN.from_driver_row(row, self.tx.dialect) for row in rows]

    def end(self, turn_id: str, status: str, reply_message_id: int | None, now: datetime) -> None:
        """The turn has ended with `status` and its stored reply (None when nothing was said)."""
        stored = stored_timestamp(now, self.tx.dialect.name)
        self.tx.run(_end_turn, {"tid": turn_id, "new_status": status, "rid": reply_message_id, "now": stored})

    def mark(self, turn_id: str, status: str) -> None:
        """Change an ended turn's status (a stop after it completed: interrupted)."""
        self.tx.execute(mark_turn, {"tid": turn_id, "new_status": status})

    def request_stop(self, turn_id: str, heard_chars: int | None) -> bool:
        """Ask a running turn to stop, for whichever worker runs it; False when it is not running."""
        return self.tx.execute(request_stop, {"tid": turn_id, "heard": heard_chars}).rowcount == 1

    def stop_requests(self, turn_ids: Iterable[str]) -> dict[str, int | None]:
        """Of `turn_ids`, those asked to stop, with the characters heard."""
        ids = list(turn_ids)
        if not ids:
            return {}
        return {turn_id: heard for turn_id, heard in self.tx.execute(stop_requests, {"tids": ids})}

    def add_events(self, events: list[tuple[str, int, str, str]]) -> None:
        """Keep events as they were sent: (turn_id, seq, event, data as JSON text)."""
        if not events:
            return
        if self.tx.dialect.name == "postgresql":
            tids, seqs, kinds, bodies = (list(column) for column in zip(*events, strict=True))
            columns = {"tids": tids, "seqs": seqs, "evs": kinds, "bodies": bodies}
            self.tx.run(_insert_events_unnested, columns)
        else:  # SQLite runs a list of rows in the process, without waiting for the loop
            rows = [{"tid": tid, "seq": seq, "ev": event, "body": body} for tid, seq, event, body in events]
            self.tx.run_many(_insert_event, rows)

    def events_after(self, turn_id: str, after: int) -> list[TurnEvent]:
        """The turn's kept events with an id after `after`, in order."""
        rows = self.tx.execute(events_after, {"tid": turn_id, "after": after})
        return [TurnEvent.kept(seq, event, data) for seq, event, data in rows]

    def ended_among(self, turn_ids: list[str]) -> list[str]:
        """Those of `turn_ids` that have ended (their status is no longer running)."""
        return [row.turn_id for row in self.tx.execute(ended_among, {"tids": turn_ids})]

    def last_event(self, turn_id: str) -> TurnEvent | None:
        """The turn's last kept event, or None."""
        row = self.tx.execute(last_event, {"tid": turn_id}).first()
        return None if row is None else TurnEvent.kept(row.seq, row.event, row.data)

    def events_of(self, cursors: dict[str, int]) -> dict[str, list[TurnEvent]]:
        """For each turn id of `cursors`, its kept events with an id after its cursor, in order."""
        found: dict[str, list[TurnEvent]] = {}
        items = list(cursors.items())
        for start in range(0, len(items), EVENTS_OF_BATCH):
            batch = items[start : start + EVENTS_OF_BATCH]
            # Padded to a multiple of 16 turns: a few statement shapes, each compiled once.
            padded = batch + [("", 0)] * (-len(batch) % 16)
            params = {
                key: value for i, (tid, after) in enumerate(padded) for key, value in ((f"t{i}", tid), (f"a{i}", after))
            }
            for tid, seq, event, data in self.tx.execute(_events_of(len(padded)), params):
                found.setdefault(tid, []).append(TurnEvent.kept(seq, event, data))
        return found

    def delete_of_sessions(self, session_ids: list[str]) -> tuple[int, int]:
        """Delete the turns of these sessions and every event they streamed (their text goes with them);
        how many events and turns."""
        events = self.tx.execute(delete_events_of_sessions, {"sids": session_ids}).rowcount
        return events, self.tx.execute(delete_turns_of_sessions, {"sids": session_ids}).rowcount

    def forget_events(self, ended_before: datetime) -> int:
        """Delete the events of turns that ended before `ended_before` (the turns stay); how many."""
        return self.tx.execute(delete_events_of_ended, {"now": ended_before}).rowcount


def _access(
    row: Sequence | None, dialect: sa.Dialect
) -> tuple[SessionRecord | None, TurnRecord | None, MessageRecord | None]:
    """The session, turn and user message of a driver row of _ACCESS_COLUMNS (None: no such session)."""
    if row is None:
        return None, None, None
    turn_at, message_at = len(SESSION.columns), len(SESSION.columns) + len(TURN.columns)
    session = SESSION.from_driver_row(row[:turn_at], dialect)
    if row[turn_at] is None:  # no turn of that id on this session
        return session, None, None
    turn = TURN.from_driver_row(row[turn_at:message_at], dialect)
    message = None if row[message_at] is None else MESSAGE.from_driver_row(row[message_at:], dialect)
    return session, turn, message
