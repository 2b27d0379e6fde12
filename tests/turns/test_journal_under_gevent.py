"""The turn journal under gevent, as a worker runs it: its writes do not wait for the loop row by row, and turns
starting together share one flusher."""

import json
import subprocess
import sys

from backend.settings import PROJECT_ROOT
from tests.servers import server_env


def test_the_journal_writes_in_few_loop_turns_and_has_one_flusher(database_url):
    result = subprocess.run(
        [sys.executable, "-m", "tests.turns.journal_probe", database_url],
        cwd=PROJECT_ROOT,
        env=server_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["kept"] == 100 and probe["renewed"] == 100
    # A list of rows on PostgreSQL was a pipeline waiting for the loop at every result: 400 hand-overs and more
    # for these 200 rows; one statement each is a few. SQLite does not wait for the loop at all.
    assert probe["switches"] <= 10
    # 50 turns starting at once started 50 flushers, each taking a connection every flush.
    assert probe["flushers"] == 1
