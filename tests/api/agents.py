"""In-process agents named by CHAT_AGENT in the tests ('tests.api.agents:<name>')."""

from __future__ import annotations

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
