"""The doorbell between processes of one host (store.doorbell): a ring from one process wakes a listener in another,
under gevent as in a gunicorn worker; its own process and dead listeners are passed over."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import sqlalchemy as sa

from backend.store.doorbell import Doorbell, doorbell_directory

LISTENER = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()
    import sys
    from pathlib import Path

    from backend.store.doorbell import Doorbell

    bell = Doorbell(Path(sys.argv[1]))
    print("unrung", bell.wait(0.01), flush=True)  # binds its socket
    print("ready", flush=True)
    print("rung", bell.wait(30), flush=True)
    """
)


def test_a_ring_wakes_a_listener_of_another_process_under_gevent_and_a_dead_ones_socket_is_removed(tmp_path):
    directory = tmp_path / "bells"
    listener = subprocess.Popen([sys.executable, "-c", LISTENER, str(directory)], stdout=subprocess.PIPE, text=True)
    assert listener.stdout.readline().split() == ["unrung", "False"]  # a timeout is no ring, and no error
    assert listener.stdout.readline().strip() == "ready"
    assert sorted(path.name for path in directory.iterdir()) == [str(listener.pid)]
    Doorbell(directory).ring()
    assert listener.stdout.readline().split() == ["rung", "True"]  # not after its 30 s: it heard the ring
    assert listener.wait(10) == 0
    listener.stdout.close()
    Doorbell(directory).ring()  # its process has ended: the socket it left refuses, and is removed
    assert list(directory.iterdir()) == []


def test_rings_that_queued_are_heard_by_one_wake_and_a_process_does_not_ring_itself(tmp_path):
    listening, ringing = Doorbell(tmp_path / "bells"), Doorbell(tmp_path / "bells")
    assert listening.wait(0.01) is False
    ringing.ring()  # this process's own socket is passed over
    assert listening.wait(0.05) is False
    # Another process's rings, three of them before it listens again: sent from a socket of this test.
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        for _ in range(3):
            sender.sendto(b"!", str(next((tmp_path / "bells").iterdir())))
    assert listening.wait(5) is True
    assert listening.wait(0.05) is False
    listening.close()
    assert list((tmp_path / "bells").iterdir()) == []


def test_without_a_directory_it_sleeps_and_rings_nobody(tmp_path):
    (tmp_path / "a-file").write_text("")
    for bell in (Doorbell(None), Doorbell(tmp_path / "a-file" / "bells")):  # none kept; one that cannot be made
        bell.ring()
        assert bell.wait(0.01) is False


def test_every_engine_of_one_database_shares_a_directory_and_none_is_named_by_a_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    file = doorbell_directory(sa.make_url(f"sqlite:///{tmp_path}/sessions.db"))
    assert file == doorbell_directory(sa.make_url("sqlite:///sessions.db"))  # the same file, however spelled
    assert file != doorbell_directory(sa.make_url(f"sqlite:///{tmp_path}/other.db"))
    assert doorbell_directory(sa.make_url("sqlite://")) is None
    assert doorbell_directory(sa.make_url("sqlite:///:memory:")) is None
    server = doorbell_directory(sa.make_url("postgresql+psycopg://app:secret@db:5432/sessions"))
    assert server == doorbell_directory(sa.make_url("postgresql+psycopg://app:other@db:5432/sessions"))
    assert server != doorbell_directory(sa.make_url("postgresql+psycopg://app:secret@db:5432/elsewhere"))
    assert len(str(server / "4194304")) < 107  # a Unix socket's path limit, with the longest pid
