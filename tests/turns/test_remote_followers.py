"""Followers of a turn that runs in another process: one reader for all of them, every event once and in order.

The turn's events are written here through the store, as the journal of the process that runs it writes them;
this process follows it as any other worker or host would."""

from __future__ import annotations

import json
import threading
import time

from backend.services.idempotency import now
from backend.services.turns.journal import RUNNING
from backend.store.repositories.turns import EVENTS_OF_BATCH


def _running_elsewhere(service, turn_id="t-remote"):
    service.get_or_create_session("s1")
    message_id = service.save_message("s1", "user", "hi")
    with service.uow.write() as store:
        store.turns.add(turn_id, "s1", message_id, now())
    assert turn_id not in RUNNING
    return turn_id


def _write(service, turn_id, *events):
    with service.uow.write() as store:
        store.turns.add_events([(turn_id, seq, name, json.dumps(data)) for seq, name, data in events])


def _collect(iterator, into):
    for event in iterator:
        into.append((event.id, event.event, event.data))


def test_two_followers_one_behind_the_other_each_get_every_event_once_in_order_even_when_written_out_of_order(
    service,
):
    turn_id = _running_elsewhere(service)
    _write(service, turn_id, (2, "delta", {"text": "a"}), (3, "delta", {"text": "b"}))
    ahead, behind = [], []
    reader_of_ahead = threading.Thread(target=_collect, args=(service.turn_events("s1", turn_id, after=3), ahead))
    reader_of_ahead.start()
    time.sleep(0.2)  # the first follower is live, from event 3
    reader_of_behind = threading.Thread(target=_collect, args=(service.turn_events("s1", turn_id, after=1), behind))
    reader_of_behind.start()
    time.sleep(0.2)
    _write(service, turn_id, (5, "delta", {"text": "d"}))  # 4 is still being written: nobody may see 5 yet
    time.sleep(0.3)
    assert [seq for seq, _, _ in ahead] == [] and [seq for seq, _, _ in behind] == [2, 3]
    _write(service, turn_id, (4, "delta", {"text": "c"}), (6, "done", {"content": "abcd"}))
    reader_of_ahead.join(5)
    reader_of_behind.join(5)
    assert [seq for seq, _, _ in ahead] == [4, 5, 6]
    assert "".join(data.get("text", "") for _, _, data in behind) == "abcd" and behind[-1][1] == "done"
    assert [seq for seq, _, _ in behind] == [2, 3, 4, 5, 6]
    assert service.followers._watched == {}  # both left: nothing is read for this turn any more


def test_the_readers_statement_reads_each_followed_turn_after_its_own_cursor(service):
    service.get_or_create_session("s1")
    message_id = service.save_message("s1", "user", "hi")
    turn_ids = [f"t{i}" for i in range(EVENTS_OF_BATCH + 44)]  # more than one statement's worth
    with service.uow.write() as store:
        for turn_id in turn_ids:
            store.turns.add(turn_id, "s1", message_id, now())
        store.turns.add_events([(turn_id, 2, "delta", json.dumps({"text": turn_id})) for turn_id in turn_ids])
        store.turns.add_events([(turn_id, 3, "done", json.dumps({"content": turn_id})) for turn_id in turn_ids[::2]])
    with service.uow.read() as store:
        found = store.turns.events_of({turn_id: 1 for turn_id in turn_ids} | {"t0": 2, "unknown": 0})
    assert sorted(found) == sorted(turn_ids)
    assert [event.id for event in found["t0"]] == [3]  # after its own cursor, not the others'
    assert [(event.id, event.data) for event in found["t1"]] == [(2, {"text": "t1"})]
    assert [event.event for event in found[turn_ids[-2]]] == ["delta", "done"]


def test_a_follower_past_the_last_kept_event_of_a_turn_whose_worker_died_gets_its_ending(service):
    # Its client read events 2 to 5 from the memory of the worker that ran the turn, which died having written
    # only 2 and 3; found abandoned, the turn ends with an `error` event 4, an id the client has passed.
    turn_id = _running_elsewhere(service)
    _write(service, turn_id, (2, "delta", {"text": "a"}), (3, "delta", {"text": "b"}))
    received = []
    reader = threading.Thread(
        target=_collect, args=(service.turn_events("s1", turn_id, after=5), received), daemon=True
    )
    reader.start()
    time.sleep(0.3)
    with service.uow.write() as store:  # what a follower writes when the turn's lease has lapsed
        store.turns.end(turn_id, "failed", None, now())
        store.turns.add_events([(turn_id, 4, "error", json.dumps({"message": "the turn's worker stopped"}))])
    reader.join(5)
    assert not reader.is_alive(), "the follower waited for an event that never comes"
    assert received == [(6, "error", {"message": "the turn's worker stopped"})]
    assert service.followers._watched == {}
