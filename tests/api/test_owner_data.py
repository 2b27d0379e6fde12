"""A user's data over HTTP: export as NDJSON and erase, by an operator for anyone or by a user for themselves."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from backend.services.errors import SessionNotFound
from tests.api.conftest import ADMIN_TOKEN
from tests.auth.tokens import ADMIN_SCOPE, AUDIENCE, ISSUER, claims, public_pem, rsa_key, sign

KEY = rsa_key()
ALICE = {"Authorization": f"Bearer {sign(KEY, claims('alice'))}"}
BOB = {"Authorization": f"Bearer {sign(KEY, claims('bob'))}"}
OPERATOR = {"Authorization": f"Bearer {sign(KEY, claims('ops', scope=f'openid {ADMIN_SCOPE}'))}"}
ZEROS = dict.fromkeys(
    ("sessions", "messages", "summaries", "turns", "turn_events", "turn_leases", "idempotency_keys"), 0
)


@pytest.fixture
def http(make_app):
    app = make_app(
        AUTH_MODE="jwt",
        JWT_PUBLIC_KEY=public_pem(KEY),
        JWT_AUDIENCE=AUDIENCE,
        JWT_ISSUER=ISSUER,
        CHAT_AGENT="tests.fakes.agents:recording",
    )
    return app.test_client()


def records(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/x-ndjson"
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


@pytest.fixture
def alices_data(http, service):
    """Alice: a session with every kind of message, a superseded one, a summary and a turn; Bob: one message."""
    sid = http.post("/api/v1/sessions", json={"metadata": {"plan": "pro"}}, headers=ALICE).get_json()["session_id"]
    batch = [
        {"role": "system", "content": "You help."},
        {"role": "user", "content": "find my order"},
        {"role": "assistant", "content": "calling", "metadata": {"tool_calls": [{"id": "c1"}]}},
        {"role": "tool", "content": '{"order": 7}', "metadata": {"tool_call_id": "c1"}},
        {"role": "assistant", "content": "Order 7 ships t", "metadata": {"status": "interrupted"}},
    ]
    response = http.post(
        f"/api/v1/sessions/{sid}/messages", json={"messages": batch}, headers={**ALICE, "Idempotency-Key": "k-1"}
    )
    assert response.status_code == 201, response.get_json()
    ids = [m["id"] for m in response.get_json()["messages"]]
    service.add_summary(sid, "Alice looked for order 7.", ids[3])
    assert (
        http.post(f"/api/v1/sessions/{sid}/rewind", json={"after_message_id": ids[3]}, headers=ALICE).status_code == 200
    )
    assert http.post("/api/v1/chat", json={"session_id": sid, "message": "and now?"}, headers=ALICE).status_code == 200
    bobs = http.post("/api/v1/sessions", json={}, headers=BOB).get_json()["session_id"]
    http.post(f"/api/v1/sessions/{bobs}/messages", json={"role": "user", "content": "bob here"}, headers=BOB)
    return sid, ids, bobs


def test_an_export_holds_every_session_message_summary_and_turn_in_order(http, alices_data):
    sid, ids, _ = alices_data
    lines = records(http.get("/api/v1/owners/alice/export", headers=OPERATOR))
    assert [line["type"] for line in lines] == [
        "export", "session", *["message"] * 7, "summary", "turn", "end"
    ]  # fmt: skip
    assert (lines[0]["owner"], lines[0]["format"]) == ("alice", 1)
    session = lines[1]
    assert (session["session_id"], session["owner"], session["metadata"]) == (sid, "alice", {"plan": "pro"})
    messages = lines[2:9]
    assert [(m["role"], m["content"], m["superseded"]) for m in messages] == [
        ("system", "You help.", False),
        ("user", "find my order", False),
        ("assistant", "calling", False),
        ("tool", '{"order": 7}', False),
        ("assistant", "Order 7 ships t", True),
        ("user", "and now?", False),
        ("assistant", "seen 4", False),
    ]
    assert messages[4]["metadata"] == {"status": "interrupted"}
    history = http.get(f"/api/v1/sessions/{sid}/messages", headers=ALICE).get_json()["messages"]
    assert [
        {k: v for k, v in m.items() if k not in ("type", "superseded")} for m in messages if not m["superseded"]
    ] == history
    assert (lines[9]["content"], lines[9]["covers_through"]) == ("Alice looked for order 7.", ids[3])
    assert (lines[10]["session_id"], lines[10]["status"]) == (sid, "completed")
    assert lines[-1] == {"type": "end", "sessions": 1, "messages": 7, "summaries": 1, "turns": 1}


def test_a_user_exports_only_their_own_data(http, alices_data):
    _, _, bobs = alices_data
    lines = records(http.get("/api/v1/me/export", headers=BOB))
    assert [(line["type"], line.get("content")) for line in lines[1:]] == [
        ("session", None),
        ("message", "bob here"),
        ("end", None),
    ]
    assert lines[1]["session_id"] == bobs


def test_only_an_operator_reaches_another_owner(http, alices_data):
    for method, path in (("GET", "/api/v1/owners/alice/export"), ("DELETE", "/api/v1/owners/alice")):
        assert http.open(path, method=method, headers=BOB).status_code == 401
        assert http.open(path, method=method, headers=ALICE).status_code == 401
        assert http.open(path, method=method).status_code == 401
    assert len(records(http.get("/api/v1/owners/alice/export", headers=OPERATOR))) == 12  # nothing was erased


def test_an_erase_removes_everything_of_the_owner_and_answers_the_counts(http, service, alices_data):
    sid, _, bobs = alices_data
    response = http.delete("/api/v1/owners/alice", headers=OPERATOR)
    assert response.status_code == 200
    body = response.get_json()
    assert body["owner"] == "alice"
    erased = body["erased"]
    assert {k: erased[k] for k in ("sessions", "messages", "summaries", "turns", "idempotency_keys")} == {
        "sessions": 1,
        "messages": 7,
        "summaries": 1,
        "turns": 1,
        "idempotency_keys": 1,
    }
    assert erased["turn_events"] >= 1  # the turn's events: how many the agent's answer made
    assert body["file_scrubbed"] is (True if service.engine.dialect.name == "sqlite" else None)
    assert http.get(f"/api/v1/sessions/{sid}", headers=OPERATOR).status_code == 404
    assert http.get("/api/v1/search?q=order", headers=OPERATOR).get_json()["hits"] == []
    assert records(http.get("/api/v1/me/export", headers=ALICE))[1:] == [
        {"type": "end", "sessions": 0, "messages": 0, "summaries": 0, "turns": 0}
    ]
    # The same Idempotency-Key now makes a new request, not a replay of the erased one.
    again = http.post("/api/v1/sessions", json={}, headers={**ALICE, "Idempotency-Key": "k-1"})
    assert again.status_code == 201
    assert [m.content for m in service.get_chat_history(bobs)] == ["bob here"]


def test_erasing_again_answers_zeros(http, alices_data):
    assert http.delete("/api/v1/me", headers=ALICE).status_code == 200
    response = http.delete("/api/v1/me", headers=ALICE)
    assert response.status_code == 200
    assert response.get_json()["erased"] == ZEROS


def test_each_export_and_erase_writes_one_audit_line_without_content(http, alices_data, caplog):
    caplog.set_level(logging.INFO, logger="backend.audit")
    records(http.get("/api/v1/owners/alice/export", headers=OPERATOR))
    http.delete("/api/v1/me", headers=ALICE)
    audits = [r for r in caplog.records if r.name == "backend.audit"]
    assert [(r.audit, r.actor, r.owner) for r in audits] == [
        ("export", "operator:ops", "alice"),
        ("erase", "self:alice", "alice"),
    ]
    assert audits[0].complete is True and audits[0].counts["messages"] == 7
    assert audits[1].erased["messages"] == 7
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for content in ("find my order", "Order 7 ships", "Alice looked for order 7", "bob here"):
        assert content not in logged


def test_me_needs_a_token_and_an_owner_of_its_own(make_app, alices_data):
    none_mode = make_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert none_mode.get("/api/v1/me/export", headers=auth).status_code == 404
    assert none_mode.delete("/api/v1/me", headers=auth).status_code == 404
    assert none_mode.delete("/api/v1/owners/alice").status_code == 401
    assert len(records(none_mode.get("/api/v1/owners/alice/export", headers=auth))) == 12
    assert make_app().test_client().get("/api/v1/owners/alice/export", headers=auth).status_code == 404


def test_a_bad_owner_is_a_422_before_any_line(http):
    response = http.get(f"/api/v1/owners/{'x' * 300}/export", headers=OPERATOR)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["owner"]


def test_an_erase_waits_for_a_running_turn(http, service, alices_data):
    sid, _, _ = alices_data
    started = datetime.now(UTC)
    with service.uow.write() as store:  # a turn's runner holds the session, as while an agent streams
        store.leases.take(sid, "a-runner", started, started + timedelta(seconds=30))
    refused = http.delete("/api/v1/owners/alice", headers=OPERATOR)
    assert refused.status_code == 409 and 1 <= int(refused.headers["Retry-After"]) <= 30
    assert records(http.get("/api/v1/owners/alice/export", headers=OPERATOR))[-1]["messages"] == 7  # nothing erased
    with service.uow.write() as store:
        store.leases.release(sid, "a-runner")
    erased = http.delete("/api/v1/owners/alice", headers=OPERATOR)
    assert erased.status_code == 200 and erased.get_json()["erased"]["sessions"] == 1


def test_an_erase_while_the_owner_writes_erases_and_the_writes_find_no_session(service):
    # Before the erase locked its batch, 17 of 20 such erases on PostgreSQL failed with a foreign-key violation.
    for _ in range(5):
        sids = [service.open_session(owner="alice")[0].session_id for _ in range(3)]
        stop, refused = threading.Event(), []

        def write():
            while not stop.is_set():
                for sid in sids:
                    try:
                        service.save_message(sid, "user", "still here?", owner="alice")
                    except SessionNotFound:
                        refused.append(sid)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.02)
        try:
            erased = service.erase_owner("alice")
        finally:
            stop.set()
            writer.join()
        assert erased.counts["sessions"] == 3
        assert refused  # the writer went on, and found its sessions gone
        assert service.list_sessions(owner="alice").sessions == []
