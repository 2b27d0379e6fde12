"""Both database drivers under gevent: a write waiting on a lock held elsewhere lets the worker's other requests run."""

import json
import subprocess
import sys

from backend.settings import PROJECT_ROOT
from backend.store.sqlite_writes import COOPERATIVE_C_BUSY_MS
from tests.servers import server_env


def test_a_write_waiting_for_a_lock_under_gevent_does_not_stop_the_other_greenlets(database_url):
    result = subprocess.run(
        [sys.executable, "-m", "tests.turns.gevent_probe", database_url],
        cwd=PROJECT_ROOT,
        env=server_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["writer_waited"] and probe["written"]
    # 0.5 s of lock held at 10 ms a tick: a blocked hub would have let the ticker run at most once.
    assert probe["ticks_while_waiting"] >= 20
    if "postgresql" in database_url:
        assert probe["psycopg_wait"] != "wait_c"  # psycopg's C wait would block the hub
    else:
        assert probe["busy_timeout_ms_after"] == COOPERATIVE_C_BUSY_MS
