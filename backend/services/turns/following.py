"""Following a turn's events as they happen, and a finished turn replayed under its key."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from backend.services.turns.writes import message_event
from backend.store.records import MessageRecord, record_to_json
from backend.store.turn_records import TurnEvent

CLIENT_CHECK_S = 0.2  # how often a follower waiting on a silent agent looks whether its client is still there
ON_DISCONNECT = ("continue", "stop")


def never_gone() -> bool:
    """For callers that cannot tell whether their client left."""
    return False


def follow_events(
    events: list[TurnEvent],
    changed: threading.Condition,
    ended: Callable[[], bool],
    after: int,
    client_gone: Callable[[], bool],
) -> Iterator[TurnEvent]:
    """The events after `after` as they are appended to `events`, until the last; ends early when the client is
    gone. The caller resumes the iterator only after its client took the previous event."""
    sent = after
    while True:
        with changed:
            while len(events) <= sent and not ended():
                changed.wait(CLIENT_CHECK_S)
                if client_gone():
                    return
            batch = events[sent:]
        for event in batch:
            yield event
            sent = event.id
            if event.event in ("done", "error"):
                return


class ReplayedTurn:
    """A turn finished earlier under the same Idempotency-Key: its stored exchange, again, with no new effect."""

    def __init__(self, session_id: str, turn_id: str | None, message: MessageRecord, reply: MessageRecord):
        self.session_id, self.turn_id, self.message, self.reply = session_id, turn_id, message, reply
        self.failure = None

    def follow(self, after: int = 0, client_gone=never_gone, on_disconnect: str = "continue") -> Iterator[TurnEvent]:
        """The stored message and one done event."""
        events = [
            TurnEvent.of(1, "message", message_event(self.message, self.turn_id)),
            TurnEvent.of(2, "done", record_to_json(self.reply)),
        ]
        yield from (event for event in events if event.id > after)
