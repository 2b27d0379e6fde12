"""A socket's readiness, checked without waiting and, under gevent, without handing the loop the turn."""

from __future__ import annotations

import socket
import subprocess
import sys

from backend.settings import PROJECT_ROOT
from backend.store.readiness import readable_check


def test_idle_then_data_then_closed():
    ours, peer = socket.socketpair()
    try:
        readable = readable_check(ours)
        assert readable() is False
        peer.sendall(b"x")
        assert readable() is True
        assert ours.recv(1) == b"x"
        assert readable() is False
        peer.close()
        assert readable() is True  # end of stream: a closed peer reads as readable
    finally:
        ours.close()


def test_a_file_descriptor_is_checked_as_its_socket():
    ours, peer = socket.socketpair()
    try:
        assert readable_check(ours.fileno())() is False
        peer.sendall(b"x")
        assert readable_check(ours.fileno())() is True
    finally:
        ours.close()
        peer.close()


# gevent's own poll(0) runs every greenlet that is ready before it returns; ours runs none.
UNDER_GEVENT = """
from gevent import monkey; monkey.patch_all()
import gevent, select, socket
from backend.store.readiness import readable_check
ours, peer = socket.socketpair()
ran = []
gevent.spawn(ran.append, "other")
patched = select.poll(); patched.register(ours, select.POLLIN); patched.poll(0)
print(ran == ["other"])
gevent.spawn(ran.append, "again")
readable_check(ours)()
print(ran == ["other"])
"""


def test_under_gevent_the_check_lets_no_other_greenlet_run():
    done = subprocess.run(
        [sys.executable, "-c", UNDER_GEVENT], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # The first line shows what gevent's poll does (the reason for the module); the second, that ours does not.
    assert done.stdout.split() == ["True", "True"]


def test_a_stream_whose_socket_is_closed_here_reads_as_gone_even_when_its_number_serves_another():
    from backend.web.sse import client_gone_check

    ours, peer = socket.socketpair()
    gone = client_gone_check({"gunicorn.socket": ours})
    assert gone() is False
    number = ours.fileno()
    ours.close()
    reuse, other_peer = socket.socketpair()  # the lowest free numbers: likely `number` again, idle
    try:
        assert gone() is True, (number, reuse.fileno())
    finally:
        for s in (peer, reuse, other_peer):
            s.close()
