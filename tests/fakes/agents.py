"""In-process agents named by CHAT_AGENT in the tests ('tests.fakes.agents:<name>')."""

from __future__ import annotations

import threading
import time

from backend.services.agents import AgentReply

calls: list = []


def recording(request):
    """Remembers what it was asked; answers with the history length."""
    calls.append(request)
    return {"reply": f"seen {len(request.history)}", "metadata": {"agent": "recording"}}


def failing(request):
    """Raises, as a broken agent does."""
    raise RuntimeError("model crashed at /secret/path/model.py")


def hanging(request):
    """Answers long after any timeout the tests set."""
    time.sleep(3)
    return "too late"


def garbage(request):
    """Answers something that is not a reply."""
    return {"text": 42}


def huge(request):
    """Answers more than the store accepts."""
    return AgentReply("x" * 200_000)


closed = threading.Event()  # set when a streaming agent was asked for no more


def streaming(request):
    """Streams three chunks, then returns its metadata (a generator's return value)."""
    yield "one "
    yield "two "
    yield "three"
    return {"agent": "streaming"}


def remembering(request):
    """Streams forever, a chunk at a time; records that it was closed."""
    closed.clear()
    try:
        n = 0
        while True:
            n += 1
            yield f"chunk{n} "
    finally:
        closed.set()


def breaking(request):
    """Streams two chunks, then fails as a crashed model does."""
    yield "half "
    yield "said "
    raise RuntimeError("model crashed at /secret/path/model.py")


def stalling(request):
    """Streams one chunk, then goes silent past any deadline the tests set."""
    yield "first "
    time.sleep(3)
    yield "too late"


def silent(request):
    """A generator that ends without saying anything."""
    return
    yield  # unreachable: makes this a generator


def sleeping(request):
    """Answers after 1.0 s, as a slow model does (cooperative under gevent: time.sleep is patched)."""
    time.sleep(1.0)
    return {"reply": f"slept on {request.message.content}", "metadata": {"agent": "sleeping"}}
