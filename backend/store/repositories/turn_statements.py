"""The statements of the turns repository (store.repositories.turns): a turn's row, its events, and a resume's reads."""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from backend.store.sql import MESSAGE, SESSION, TURN, Precompiled, messages, sessions, turn_events, turns

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
run_insert_turn, run_running_on_session, run_end_turn, run_insert_event, run_insert_events_unnested = map(
    Precompiled, (insert_turn, running_on_session, end_turn, insert_event, insert_events_unnested)
)
# PostgreSQL: a turn's end and its last events in one statement (its greenlet waits for one reply, not two).
run_end_turn_with_events = Precompiled(insert_events_unnested.add_cte(end_turn.cte("ended")))
# A resume's access check in one statement: the session, its turn of that id, the turn's user message. As three
# statements, each waited for its worker's loop: 0.2-0.3 s at p99 apiece on PostgreSQL while 200 turns streamed.
ACCESS_COLUMNS = (*SESSION.columns, *TURN.columns, *MESSAGE.columns)
_access_from = sessions.outerjoin(turns, sa.and_(_this_turn, turns.c.session_id == sessions.c.session_id)).outerjoin(
    messages, sa.and_(messages.c.id == turns.c.user_message_id, messages.c.session_id == sessions.c.session_id)
)
_this_session = sessions.c.session_id == sa.bindparam("sid")
_session_turn_message = sa.select(*ACCESS_COLUMNS).select_from(_access_from).where(_this_session)
EVENT_COLUMNS = (turn_events.c.seq, turn_events.c.event, turn_events.c.data)
_events_after_cursor = sa.and_(turn_events.c.turn_id == sa.bindparam("tid"), turn_events.c.seq > sa.bindparam("after"))
# The same check and, after it, the turn's events after a cursor (a resume on a worker that does not run the turn):
# one statement where two each waited a turn of the worker's loop (p99 27-36 ms apiece on PostgreSQL with 200
# turns streaming). The events come back whatever the check finds; the caller uses them only when it passes.
_session_turn_message_events = sa.union_all(
    sa.select(
        sa.literal_column("0").label("part"),
        *ACCESS_COLUMNS,
        *(sa.type_coerce(sa.null(), c.type).label(f"event_{c.name}") for c in EVENT_COLUMNS),
    )
    .select_from(_access_from)
    .where(_this_session),
    sa.select(sa.literal_column("1"), *(sa.null() for _ in ACCESS_COLUMNS), *EVENT_COLUMNS).where(_events_after_cursor),
).order_by(sa.literal_column("part"), sa.literal_column("event_seq"))
events_after = sa.select(*EVENT_COLUMNS).where(_events_after_cursor).order_by(turn_events.c.seq)
# Every resume runs one of these, on the driver's cursor like a turn's own statements.
run_session_turn_message, run_session_turn_message_events = map(
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
def events_of(pairs: int) -> sa.Select:
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
