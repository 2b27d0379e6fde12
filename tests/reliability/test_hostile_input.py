"""Hostile requests against the real server: each answered with its documented 4xx, none storing anything."""

from __future__ import annotations

import json

import pytest
import requests

from backend.store.engines import create_engine
from tests.reliability.corpus import CORPUS, EXACT_CONTENTS, EXACT_METADATA
from tests.reliability.rawhttp import send

pytestmark = pytest.mark.slow
API = "/api/v1"
SECRET = "victim-secret-7f3a9c"
# What must never appear in an answer: traces, SQL, driver names, file paths, another session's data.
LEAKS = (
    "Traceback",
    'File "',
    ".py",
    "/work",
    "/tmp",
    "/root",
    "sqlite",
    "psycopg",
    "sqlalchemy",
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "chat_history",
    SECRET,
)


def snapshot(engine) -> tuple:
    """Everything a hostile request could have changed."""
    with engine.connect() as conn:
        return (
            conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar(),
            conn.exec_driver_sql("SELECT count(*), max(id) FROM chat_history").one(),
            conn.exec_driver_sql(
                "SELECT session_id, device_fingerprint, message_count, metadata FROM sessions ORDER BY session_id"
            ).all(),
        )


def leaks(text: str) -> list[str]:
    """The forbidden fragments found in an answer."""
    return [fragment for fragment in LEAKS if fragment.lower() in text.lower()]


def test_every_hostile_request_gets_its_documented_4xx_and_stores_nothing(database_url, launch, figures):
    """The corpus of tests/reliability/corpus.py, sent byte for byte to gunicorn."""
    server = launch(database_url)
    base = server.base_url
    for sid in ("target", "victim"):
        assert requests.post(f"{base}{API}/sessions", json={"session_id": sid}, timeout=10).status_code == 201
        requests.post(
            f"{base}{API}/sessions/{sid}/messages",
            json={"role": "user", "content": f"{sid} {SECRET if sid == 'victim' else 'hello'}"},
            timeout=10,
        ).raise_for_status()
    engine = create_engine(database_url)
    failures, answered = [], {}
    try:
        for case in CORPUS:
            before = snapshot(engine)
            response = send(server.port, case.method, case.path, case.body, case.headers, case.chunked)
            after = snapshot(engine)
            answered[f"{case.kind}: {case.name}"] = response.status
            problems = []
            if response.status not in case.expect:
                problems.append(f"status {response.status}, expected {sorted(case.expect)}")
            if after != before:
                problems.append("the store changed")
            if found := leaks(response.text):
                problems.append(f"leaks {found}")
            if response.headers.get("Content-Type", "").startswith("application/json"):
                if not json.loads(response.body).get("message"):
                    problems.append("no message")
            elif response.status not in (400, 414) or "request line" not in case.name:
                problems.append(f"not JSON: {response.headers.get('Content-Type')}")
            if problems:
                failures.append(f"{case.kind}: {case.name}: {'; '.join(problems)}: {response.text[:200]}")
    finally:
        engine.dispose()
    figures.update(
        cases_tried=len(CORPUS),
        answered_as_documented=len(CORPUS) - len(failures),
        stored_anything=sum("store changed" in f for f in failures),
        statuses={s: list(answered.values()).count(s) for s in sorted(set(answered.values()))},
    )
    assert not failures, "\n".join(failures)


def test_hostile_text_is_stored_and_returned_exactly(database_url, launch, figures):
    """SQL, shell and path text, emoji, RTL, invisible and control characters: the same bytes come back."""
    server = launch(database_url)
    base = server.base_url
    fingerprint = "📱 device ' OR 1=1 -- ✓"
    created = requests.post(
        f"{base}{API}/sessions",
        json={"session_id": "exact", "device_fingerprint": fingerprint, "metadata": EXACT_METADATA},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.json()["device_fingerprint"] == fingerprint and created.json()["metadata"] == EXACT_METADATA
    sent = []
    for name, content in EXACT_CONTENTS:
        body = {"role": "user", "content": content, "metadata": {"case": name, **EXACT_METADATA}}
        # Raw UTF-8, not \u escapes: 100,000 emoji escaped would pass MAX_CONTENT_LENGTH.
        answer = requests.post(
            f"{base}{API}/sessions/exact/messages",
            timeout=30,
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert answer.status_code == 201, (name, answer.text[:200])
        assert answer.json()["content"] == content, name
        sent.append((answer.json()["id"], content))
    page = requests.get(f"{base}{API}/sessions/exact/messages", params={"limit": 500}, timeout=30).json()["messages"]
    assert [(m["id"], m["content"]) for m in page] == sent
    assert all({k: v for k, v in m["metadata"].items() if k != "case"} == EXACT_METADATA for m in page)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = conn.exec_driver_sql(
                "SELECT id, content FROM chat_history WHERE session_id = 'exact' ORDER BY id"
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in stored] == sent
    session = requests.get(f"{base}{API}/sessions/exact", timeout=10).json()
    assert session["message_count"] == len(sent) and session["device_fingerprint"] == fingerprint
    figures.update(texts_sent=len(sent), returned_exactly=len(page), stored_exactly=len(stored))
