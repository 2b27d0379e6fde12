"""Turns and their events: a turn's state, the stop asked of it, and the events its stream sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa

from backend.models.types import stored_timestamp
from backend.store.records import MessageRecord, SessionRecord
from backend.store.repositories import Repository
from backend.store.repositories import turn_statements as st
from backend.store.sql import MESSAGE, SESSION, TURN
from backend.store.turn_records import TurnEvent, TurnRecord

EVENTS_OF_BATCH = 256  # turns per statement of events_of


class TurnRepository(Repository):
    """The turns table and the events of each turn."""

    __slots__ = ()

    def add(self, turn_id: str, session_id: str, user_message_id: int, now: datetime) -> None:
        """A running turn of the session, answering the stored user message."""
        stored = stored_timestamp(now, self.tx.dialect.name)
        self.tx.run(st.run_insert_turn, {"tid": turn_id, "sid": session_id, "mid": user_message_id, "now": stored})

    def get(self, turn_id: str) -> TurnRecord | None:
        """The turn, or None."""
        row = self.tx.execute(st.select_turn, {"tid": turn_id}).first()
        return None if row is None else TURN.from_result_row(row)

    def with_session_and_message(
        self, session_id: str, turn_id: str
    ) -> tuple[SessionRecord | None, TurnRecord | None, MessageRecord | None]:
        """The session, its turn `turn_id` (None when the session has none of that id) and the turn's user message,
        read in one statement."""
        row = self.tx.run(st.run_session_turn_message, {"sid": session_id, "tid": turn_id}).fetchone()
        return _access(row, self.tx.dialect)

    def with_session_message_and_events(
        self, session_id: str, turn_id: str, after: int
    ) -> tuple[SessionRecord | None, TurnRecord | None, MessageRecord | None, list[TurnEvent]]:
        """As with_session_and_message, and the turn's kept events with an id after `after`, in order: one
        statement. The events are those of the turn id whatever the session: use them only once the check passed."""
        values = {"sid": session_id, "tid": turn_id, "after": after}
        rows = self.tx.run(st.run_session_turn_message_events, values).fetchall()
        access_row = rows[0][1 : 1 + len(st.ACCESS_COLUMNS)] if rows and rows[0][0] == 0 else None
        events = [TurnEvent.kept(*row[-len(st.EVENT_COLUMNS) :]) for row in rows if row[0] == 1]
        return (*_access(access_row, self.tx.dialect), events)

    def running_on(self, session_id: str) -> list[TurnRecord]:
        """The session's turns still marked running (at most one, unless its worker died)."""
        rows = self.tx.run(st.run_running_on_session, {"sid": session_id}).fetchall()
        return [TURN.from_driver_row(row, self.tx.dialect) for row in rows]

    def end(
        self,
        turn_id: str,
        status: str,
        reply_message_id: int | None,
        now: datetime,
        events: Sequence[tuple[str, int, str, str]] = (),
    ) -> None:
        """The turn has ended with `status` and its stored reply (None when nothing was said); its last `events`
        kept as add_events keeps them."""
        stored = stored_timestamp(now, self.tx.dialect.name)
        ended = {"tid": turn_id, "new_status": status, "rid": reply_message_id, "now": stored}
        if events and self.tx.dialect.name == "postgresql":
            self.tx.run(st.run_end_turn_with_events, {**ended, **_event_columns(events)})
            return
        self.tx.run(st.run_end_turn, ended)
        self.add_events(events)

    def mark(self, turn_id: str, status: str) -> None:
        """Change an ended turn's status (a stop after it completed: interrupted)."""
        self.tx.execute(st.mark_turn, {"tid": turn_id, "new_status": status})

    def request_stop(self, turn_id: str, heard_chars: int | None) -> bool:
        """Ask a running turn to stop, for whichever worker runs it; False when it is not running."""
        return self.tx.execute(st.request_stop, {"tid": turn_id, "heard": heard_chars}).rowcount == 1

    def stop_requests(self, turn_ids: Iterable[str]) -> dict[str, int | None]:
        """Of `turn_ids`, those asked to stop, with the characters heard."""
        ids = list(turn_ids)
        if not ids:
            return {}
        return {turn_id: heard for turn_id, heard in self.tx.execute(st.stop_requests, {"tids": ids})}

    def add_events(self, events: Sequence[tuple[str, int, str, str]]) -> None:
        """Keep events as they were sent: (turn_id, seq, event, data as JSON text)."""
        if not events:
            return
        if self.tx.dialect.name == "postgresql":
            self.tx.run(st.run_insert_events_unnested, _event_columns(events))
        else:  # SQLite runs a list of rows in the process, without waiting for the loop
            rows = [{"tid": tid, "seq": seq, "ev": event, "body": body} for tid, seq, event, body in events]
            self.tx.run_many(st.run_insert_event, rows)

    def events_after(self, turn_id: str, after: int) -> list[TurnEvent]:
        """The turn's kept events with an id after `after`, in order."""
        rows = self.tx.execute(st.events_after, {"tid": turn_id, "after": after})
        return [TurnEvent.kept(seq, event, data) for seq, event, data in rows]

    def ended_among(self, turn_ids: list[str]) -> list[str]:
        """Those of `turn_ids` that have ended (their status is no longer running)."""
        return [row.turn_id for row in self.tx.execute(st.ended_among, {"tids": turn_ids})]

    def last_event(self, turn_id: str) -> TurnEvent | None:
        """The turn's last kept event, or None."""
        row = self.tx.execute(st.last_event, {"tid": turn_id}).first()
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
            for tid, seq, event, data in self.tx.execute(st.events_of(len(padded)), params):
                found.setdefault(tid, []).append(TurnEvent.kept(seq, event, data))
        return found

    def delete_of_sessions(self, session_ids: list[str]) -> tuple[int, int]:
        """Delete the turns of these sessions and every event they streamed (their text goes with them);
        how many events and turns."""
        events = self.tx.execute(st.delete_events_of_sessions, {"sids": session_ids}).rowcount
        return events, self.tx.execute(st.delete_turns_of_sessions, {"sids": session_ids}).rowcount

    def forget_events(self, ended_before: datetime) -> int:
        """Delete the events of turns that ended before `ended_before` (the turns stay); how many."""
        return self.tx.execute(st.delete_events_of_ended, {"now": ended_before}).rowcount


def _event_columns(events: Sequence[tuple[str, int, str, str]]) -> dict[str, list]:
    """Events as the column arrays PostgreSQL's unnest reads them from."""
    tids, seqs, kinds, bodies = (list(column) for column in zip(*events, strict=True))
    return {"tids": tids, "seqs": seqs, "evs": kinds, "bodies": bodies}


def _access(
    row: Sequence | None, dialect: sa.Dialect
) -> tuple[SessionRecord | None, TurnRecord | None, MessageRecord | None]:
    """The session, turn and user message of a driver row of st.ACCESS_COLUMNS (None: no such session)."""
    if row is None:
        return None, None, None
    turn_at, message_at = len(SESSION.columns), len(SESSION.columns) + len(TURN.columns)
    session = SESSION.from_driver_row(row[:turn_at], dialect)
    if row[turn_at] is None:  # no turn of that id on this session
        return session, None, None
    turn = TURN.from_driver_row(row[turn_at:message_at], dialect)
    message = None if row[message_at] is None else MESSAGE.from_driver_row(row[message_at:], dialect)
    return session, turn, message
