"""Run in a process of its own (`python -m tests.turns.journal_probe URL`): under gevent, how many times does the
journal's write of 100 events and 100 lease renewals give gevent's loop the hand, and how many flushers do 50
turns starting at once start? Prints JSON."""

from gevent import monkey

monkey.patch_all()  # first, as gunicorn's gevent worker does before it imports the app

import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from datetime import timedelta  # noqa: E402

import gevent  # noqa: E402
import greenlet  # noqa: E402

from backend.services.idempotency import now  # noqa: E402
from backend.services.turns.journal import TurnJournal  # noqa: E402
from backend.store.engines import create_engine  # noqa: E402
from backend.store.unit_of_work import UnitOfWork  # noqa: E402


class _Turn:
    """What the journal needs of a running turn, holding nothing."""

    def __init__(self, turn_id: str):
        self.turn_id = turn_id

    def held(self):
        return None, None

    def request_stop(self, heard_chars):
        pass


def main(url: str) -> dict:
    uow = UnitOfWork(create_engine(url))
    leases = [(f"probe-{i}", f"token-{i}") for i in range(100)]
    with uow.write() as store:
        for session_id, token in leases:
            store.leases.take(session_id, token, now(), now() + timedelta(seconds=5))
    events = [(f"turn-{i}", 2, "delta", '{"text":"w"}') for i in range(100)]
    switches = 0

    def count(event, _args):
        nonlocal switches
        switches += event in ("switch", "throw")

    with uow.write() as store:
        greenlet.settrace(count)
        store.turns.add_events(events)
        store.leases.renew(leases, now() + timedelta(seconds=60))
        greenlet.settrace(None)
    with uow.read() as store:
        kept = store.turns.events_of({f"turn-{i}": 0 for i in range(100)})
        renewed = sum(store.leases.expiry(session_id) > now() + timedelta(seconds=30) for session_id, _ in leases)
    journal = TurnJournal(uow, lease_s=5)
    gevent.joinall([gevent.spawn(journal.start, _Turn(f"started-{i}")) for i in range(50)])
    flushers = sum(thread.name == "turn-journal" for thread in threading.enumerate())
    return {
        "switches": switches,
        "kept": sum(len(found) for found in kept.values()),
        "renewed": renewed,
        "flushers": flushers,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
