"""The doorbell between processes of one host (store.doorbell): a ring from one process wakes a listener in another,
under gevent as in a gunicorn worker; its own process and dead listeners are passed over; a directory that is not
this user's own, or no temporary directory at all, leaves the journal polling, without an error."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import textwrap

import pytest
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
    import time

    time.sleep(30)  # until killed
    """
)


def test_a_ring_wakes_a_listener_of_another_process_under_gevent_and_a_dead_ones_socket_is_removed(tmp_path):
    directory = tmp_path / "bells"
    listener = subprocess.Popen([sys.executable, "-c", LISTENER, str(directory)], stdout=subprocess.PIPE, text=True)
    assert listener.stdout.readline().split() == ["unrung", "False"]  # a timeout is no ring, and no error
    assert listener.stdout.readline().strip() == "ready"
    (bound,) = directory.iterdir()
    assert bound.name.startswith(f"{listener.pid}.") and directory.stat().st_mode & 0o777 == 0o700
    Doorbell(directory).ring()
    assert listener.stdout.readline().split() == ["rung", "True"]  # not after its 30 s: it heard the ring
    listener.stdout.close()
    listener.kill()  # no clean exit: its socket stays behind, refusing
    assert listener.wait(10) != 0 and bound.exists()
    Doorbell(directory).ring()
    assert not bound.exists()


def test_rings_that_queued_are_heard_by_one_wake_and_a_process_does_not_ring_itself(tmp_path):
    directory = tmp_path / "bells"
    listening, also_listening, ringing = Doorbell(directory), Doorbell(directory), Doorbell(directory)
    assert listening.wait(0.01) is False and also_listening.wait(0.01) is False
    assert len(list(directory.iterdir())) == 2  # two doorbells of one process: neither took the other's place
    ringing.ring()  # this process's own sockets are passed over
    assert listening.wait(0.05) is False
    # Another process's rings, three of them before it listens again: sent from a socket of this test.
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        for _ in range(3):
            for bound in directory.iterdir():
                sender.sendto(b"!", str(bound))
    assert listening.wait(5) is True and also_listening.wait(5) is True
    assert listening.wait(0.05) is False
    listening.close()
    also_listening.close()
    assert not directory.exists()  # the last one out removes the directory


def test_a_directory_other_users_may_write_into_is_not_used(tmp_path, caplog):
    directory = tmp_path / "bells"
    directory.mkdir(mode=0o777)
    directory.chmod(0o777)  # as another user could have made it first, to drop or fake our sockets
    bell = Doorbell(directory)
    assert bell.wait(0.01) is False and bell.wait(0.01) is False
    assert list(directory.iterdir()) == []
    assert "not a private directory" in caplog.text


def test_without_a_directory_it_sleeps_and_rings_nobody(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    for bell in (Doorbell(None), Doorbell(tmp_path / "a-file" / "bells")):  # none kept; one that cannot be made
        bell.ring()
        assert bell.wait(0.01) is False

    def no_temporary_directory():
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(tempfile, "gettempdir", no_temporary_directory)
    assert doorbell_directory(sa.make_url(f"sqlite:///{tmp_path}/sessions.db")) is None


def test_every_engine_of_one_database_shares_a_directory_and_none_is_named_by_a_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sessions.db").write_text("")
    (tmp_path / "link.db").symlink_to(tmp_path / "sessions.db")
    file = doorbell_directory(sa.make_url(f"sqlite:///{tmp_path}/sessions.db"))
    assert file == doorbell_directory(sa.make_url("sqlite:///sessions.db"))  # the same file, however named
    assert file == doorbell_directory(sa.make_url("sqlite:///link.db"))
    assert file != doorbell_directory(sa.make_url(f"sqlite:///{tmp_path}/other.db"))
    assert doorbell_directory(sa.make_url("sqlite://")) is None
    assert doorbell_directory(sa.make_url("sqlite:///:memory:")) is None
    server = doorbell_directory(sa.make_url("postgresql+psycopg://app:secret@db:5432/sessions"))
    assert server == doorbell_directory(sa.make_url("postgresql+psycopg://app:other@db:5432/sessions"))
    assert server != doorbell_directory(sa.make_url("postgresql+psycopg://app:secret@db:5432/elsewhere"))
    assert len(str(server / "4194304.0123abcd")) < 107  # a Unix socket's path limit, with the longest pid


@pytest.mark.parametrize("kind", ["closed", "never bound"])
def test_a_closed_doorbell_waits_as_a_sleep(tmp_path, kind):
    bell = Doorbell(tmp_path / "bells")
    if kind == "closed":
        assert bell.wait(0.01) is False
    bell.close()
    assert bell.wait(0.01) is False  # binds anew after a close
    bell.close()
