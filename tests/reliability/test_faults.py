"""Faults: workers and the whole server SIGKILLed mid-storm, the database going away, the agent hanging or dying."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.fakes.misbehaving_agent import MisbehavingAgent
from tests.reliability.load import Storm
from tests.reliability.proxy import TcpProxy
from tests.reliability.verify import inspect_store, sqlite_integrity
from tests.servers import migrate

pytestmark = pytest.mark.slow
API = "/api/v1"


def test_sigkill_of_a_worker_then_of_the_whole_server_loses_no_acknowledged_message(
    database_url, launch, kind, figures
):
    """16 clients, 9 s; one worker SIGKILLed at 2.5 s, master and workers SIGKILLed at 5 s, restarted on the same
    port."""
    server = launch(database_url)
    storm = Storm([server.base_url], clients=16, duration_s=9.0, tag="kill").start()
    time.sleep(2.5)
    killed_worker = server.kill_worker()
    time.sleep(2.5)
    server.kill_all()
    time.sleep(0.5)
    restarted = launch(database_url, port=server.port, migrate_first=False)
    storm.join()
    tally = storm.tally
    findings = inspect_store(database_url, tally.acknowledged)
    integrity = sqlite_integrity(database_url) if kind == "sqlite" else "n/a"
    figures.update(tally.figures(), **findings.figures(), integrity_check=integrity)

    assert killed_worker not in restarted.worker_pids()
    assert tally.server_errors == [], tally.server_errors[:5]
    assert len(tally.acknowledged) > 200
    findings.assert_consistent()
    assert findings.acknowledged_found == len(tally.acknowledged)
    assert integrity in ("ok", "n/a")
    # The restarted server serves the same sessions.
    page = requests.get(f"{restarted.base_url}{API}/sessions/{storm.shared}/messages", params={"limit": 1}, timeout=10)
    assert page.status_code == 200


def _append(base: str, sid: str, content: str) -> requests.Response:
    return requests.post(f"{base}{API}/sessions/{sid}/messages", json={"role": "user", "content": content}, timeout=10)


def _assert_outage_then_recovery(server, go_away, come_back, figures) -> None:
    base = server.base_url
    assert requests.post(f"{base}{API}/sessions", json={"session_id": "outage"}, timeout=10).status_code == 201
    assert _append(base, "outage", "before").status_code == 201
    go_away()
    answers = [_append(base, "outage", f"during {n}") for n in range(6)]
    reads = [requests.get(f"{base}{API}/sessions/outage", timeout=10) for _ in range(2)]
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert {a.status_code for a in answers} == {503}, [(a.status_code, a.text) for a in answers]
    for answer in answers + [ready]:
        body = answer.json()
        assert body["code"] == 503 and "database" in body["message"], body
        assert "Traceback" not in answer.text and "SELECT" not in answer.text and "/" not in body["message"]
    assert answers[0].headers.get("Retry-After")
    assert ready.status_code == 503
    come_back()
    # Recovered at once: no 503 left behind by a connection the pool kept from the outage.
    started = time.monotonic()
    after = [_append(base, "outage", f"after {n}") for n in range(8)]
    recovered_in = time.monotonic() - started
    assert [a.status_code for a in after] == [201] * 8, [(a.status_code, a.text) for a in after]
    assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    session = requests.get(f"{base}{API}/sessions/outage", timeout=10).json()
    page = requests.get(f"{base}{API}/sessions/outage/messages", timeout=10).json()["messages"]
    contents = [m["content"] for m in page]
    assert not any(c.startswith("during") for c in contents)
    assert session["message_count"] == len(page)
    figures.update(
        writes_during_outage=len(answers),
        answered_503=sum(a.status_code == 503 for a in answers),
        reads_during_outage=[r.status_code for r in reads],
        readyz_during_outage=ready.status_code,
        writes_after_recovery=len(after),
        answered_201_after=len(after),
        seconds_for_writes_after=round(recovered_in, 2),
        restarts=0,
    )


def test_database_going_away_answers_503_and_service_recovers_without_restart(database_url, launch, kind, figures):
    """PostgreSQL: a TCP proxy of ours is cut, then restored. SQLite: the file and its directory made read-only."""
    if kind == "postgresql":
        _postgresql_outage(database_url, launch, figures)
    else:
        _sqlite_read_only_outage(database_url, launch, figures)


def _postgresql_outage(database_url, launch, figures) -> None:
    url = sa.make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        migrate(database_url)
        server = launch(
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), migrate_first=False
        )
        _assert_outage_then_recovery(server, proxy.cut, proxy.restore, figures)
        figures["connections_refused_while_cut"] = proxy.refused
        # A blip nobody noticed: every pooled connection dies while idle. None may fail a request later.
        warm = [requests.get(f"{server.base_url}{API}/sessions/outage", timeout=10).status_code for _ in range(20)]
        proxy.cut()
        time.sleep(0.3)
        proxy.restore()
        after_blip = [_append(server.base_url, "outage", f"after blip {n}").status_code for n in range(10)]
        figures["writes_after_idle_blip"] = after_blip.count(201)
        assert warm == [200] * 20 and after_blip == [201] * 10, after_blip
    finally:
        proxy.close()


def _sqlite_read_only_outage(database_url, launch, figures) -> None:
    # We run as root, which ignores permissions: the server runs as nobody over a directory of its own
    # (pytest's tmp_path is not reachable by nobody).
    directory = Path(tempfile.mkdtemp(prefix="reliability-ro-", dir="/tmp"))
    try:
        shutil.copyfile(sa.make_url(database_url).database, directory / "sessions.db")
        url = f"sqlite:///{directory}/sessions.db"
        migrate(url)
        for path in [directory, *directory.iterdir()]:
            shutil.chown(path, "nobody", "nogroup")
        # --preload: the interpreter's own library lives under /root, which nobody cannot read, so the
        # master imports the app before the workers drop to nobody.
        server = launch(url, migrate_first=False, extra_args=("--preload", "--user", "nobody", "--group", "nogroup"))

        def go_away():
            for path in directory.iterdir():
                path.chmod(0o444)
            directory.chmod(0o555)
            # A running worker keeps the file it opened and goes on writing (POSIX): replace the workers,
            # as a crash or a max-requests recycle would, so that they open the now read-only database.
            server.replace_workers()

        def come_back():
            directory.chmod(0o755)
            for path in directory.iterdir():
                path.chmod(0o644)

        _assert_outage_then_recovery(server, go_away, come_back, figures)
    finally:
        directory.chmod(0o755)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("mode", ["hang", "drop"])
def test_an_agent_that_hangs_or_dies_mid_chat_gives_502_in_time_and_the_message_is_stored_once(
    database_url, launch, mode, figures
):
    """CHAT_AGENT_URL points at a real loopback server that never answers, or drops the connection mid-answer."""
    agent = MisbehavingAgent(mode)
    try:
        server = launch(database_url, CHAT_AGENT_URL=agent.url, AGENT_TIMEOUT_S="1")
        base = server.base_url
        assert requests.post(f"{base}{API}/sessions", json={"session_id": "talk"}, timeout=10).status_code == 201
        timings, statuses = [], []
        for n in range(3):
            started = time.monotonic()
            answer = requests.post(
                f"{base}{API}/chat", json={"session_id": "talk", "message": f"hello {n}"}, timeout=20
            )
            timings.append(round(time.monotonic() - started, 2))
            statuses.append(answer.status_code)
            assert answer.status_code == 502, answer.text
            assert "the message was stored" in answer.json()["message"]
        page = requests.get(f"{base}{API}/sessions/talk/messages", timeout=10).json()["messages"]
        session = requests.get(f"{base}{API}/sessions/talk", timeout=10).json()
        figures.update(
            mode=mode,
            agent_timeout_s=1,
            chats_sent=3,
            statuses=statuses,
            seconds_to_answer=timings,
            agent_calls=agent.calls,
            messages_stored=len(page),
        )
        assert [(m["role"], m["content"]) for m in page] == [("user", f"hello {n}") for n in range(3)]
        assert session["message_count"] == 3
        # 502 within the timeout (1 s) plus the work around it, never the worker's 31 s kill.
        assert max(timings) < 1 + 2.0
        assert agent.calls == 3
    finally:
        agent.close()
