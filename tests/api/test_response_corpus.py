"""Every answer of a corpus of requests, byte for byte, with its log lines and the metrics it moved, as recorded in
tests/api/corpus/responses.txt from the code of 41d9039 (before issue 23's cuts to the hot paths).

A difference fails with a diff. When a change of answer is deliberate, rewrite the file and review its diff:
    UPDATE_CORPUS=1 .venv/bin/pytest tests/api/test_response_corpus.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from backend import create_app
from backend.services.session import SessionService
from backend.settings import ProductionConfig
from tests.api.conftest import HERMETIC
from tests.api.corpus_requests import HISTORY, HISTORY_MESSAGES
from tests.api.response_corpus import replay

GOLDEN = Path(__file__).parent / "corpus" / "responses.txt"


@pytest.fixture
def corpus_app(sqlite_template, tmp_path):
    """A production app over a fresh SQLite file holding one session of 1,000 messages (ids 1 to 1000)."""
    url = sqlite_template.copy_to(tmp_path / "corpus.db")
    service = SessionService(url)
    service.get_or_create_session(HISTORY)
    for start in range(0, HISTORY_MESSAGES, 100):
        batch = [
            {"role": ("user", "assistant")[n % 2], "content": f"message {n + 1}"} for n in range(start, start + 100)
        ]
        service.save_messages(HISTORY, batch)
    return create_app(ProductionConfig(DATABASE_URL=url, **HERMETIC))


def test_every_answer_of_the_corpus_is_the_recorded_one(corpus_app):
    replayed = replay(corpus_app)
    if os.environ.get("UPDATE_CORPUS") == "1":
        GOLDEN.write_text(replayed, encoding="utf-8")
    recorded = GOLDEN.read_text(encoding="utf-8")
    if replayed != recorded:
        diff = difflib.unified_diff(
            recorded.splitlines(), replayed.splitlines(), "recorded", "replayed", lineterm="", n=2
        )
        pytest.fail("the answers differ from tests/api/corpus/responses.txt:\n" + "\n".join(diff), pytrace=False)
