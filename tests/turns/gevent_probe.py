"""Run in a process of its own (`python -m tests.turns.gevent_probe URL`): under gevent, does a write that waits
for a lock held elsewhere let the worker's other greenlets run? Prints JSON."""

from gevent import monkey

monkey.patch_all()  # first, as gunicorn's gevent worker does before it imports the app

import json  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import psycopg.waiting  # noqa: E402

from backend.services.session import SessionService  # noqa: E402
from backend.store.engines import create_engine  # noqa: E402


def main(url: str) -> dict:
    engine = create_engine(url, busy_timeout_s=3)
    service = SessionService(engine)
    service.get_or_create_session("probe")
    holder = create_engine(url)
    ticks = 0
    with holder.connect() as connection:
        raw = connection.connection.driver_connection
        # Hold the write lock (SQLite) or the session's row lock (PostgreSQL) from another connection.
        if holder.dialect.name == "sqlite":
            raw.execute("BEGIN IMMEDIATE")
        else:
            raw.execute("SELECT 1 FROM sessions WHERE session_id = 'probe' FOR UPDATE")
        writer = gevent.spawn(service.add_message, "probe", "user", "waited")

        def tick():
            nonlocal ticks
            while not writer.dead:
                ticks += 1
                gevent.sleep(0.01)

        ticker = gevent.spawn(tick)
        gevent.sleep(0.5)  # the writer waits on the lock meanwhile
        waited_while_held = not writer.dead
        raw.commit() if holder.dialect.name != "sqlite" else raw.execute("COMMIT")
        writer.join(5)
        ticker.join(1)
    holder.dispose()
    result = {
        "psycopg_wait": psycopg.waiting.wait.__name__,
        "ticks_while_waiting": ticks,
        "writer_waited": waited_while_held,
        "written": writer.successful(),
    }
    if engine.dialect.name == "sqlite":  # the wait in C, off while the writer waited, is back for later statements
        with engine.connect() as connection:
            result["busy_timeout_ms_after"] = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
