"""Both database drivers under gevent: a write waiting on a lock held elsewhere lets the worker's other requests run."""

from backend.store.sqlite_writes import COOPERATIVE_C_BUSY_MS
from tests.servers import run_probe


def test_a_write_waiting_for_a_lock_under_gevent_does_not_stop_the_other_greenlets(database_url):
    probe = run_probe("tests.turns.gevent_probe", database_url)
    assert probe["writer_waited"] and probe["written"]
    # 0.5 s of lock held at 10 ms a tick: a blocked hub would have let the ticker run at most once.
    assert probe["ticks_while_waiting"] >= 20
    if "postgresql" in database_url:
        assert probe["psycopg_wait"] != "wait_c"  # psycopg's C wait would block the hub
    else:
        assert probe["busy_timeout_ms_after"] == COOPERATIVE_C_BUSY_MS
