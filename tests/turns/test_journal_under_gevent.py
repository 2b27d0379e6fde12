"""The turn journal under gevent, as a worker runs it: its writes do not wait for the loop row by row, and turns
starting together share one flusher."""

from tests.servers import run_probe


def test_the_journal_writes_in_few_loop_turns_and_has_one_flusher(database_url):
    probe = run_probe("tests.turns.journal_probe", database_url)
    assert probe["kept"] == 100 and probe["renewed"] == 100
    # A list of rows on PostgreSQL was a pipeline waiting for the loop at every result: 400 hand-overs and more
    # for these 200 rows; one statement each is a few. SQLite does not wait for the loop at all.
    assert probe["switches"] <= 10
    # 50 turns starting at once started 50 flushers, each taking a connection every flush.
    assert probe["flushers"] == 1
