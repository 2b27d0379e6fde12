"""Batches of messages: all stored in one transaction, in order and together, or none; over HTTP and from
Python, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from backend.services.errors import InvalidInput, SessionNotFound

BATCH = [
    {"role": "user", "content": "what is 2+2?"},
    {"role": "assistant", "content": "calling add", "metadata": {"tool_calls": [{"id": "c1", "name": "add"}]}},
    {"role": "tool", "content": "4", "metadata": {"tool_call_id": "c1"}},
    {"role": "assistant", "content": "4"},
]


@pytest.fixture
def session(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    client.post("/api/v1/sessions/s1/messages", json={"role": "system", "content": "be brief"})
    return "s1"


def history(client, session_id="s1"):
    return client.get(f"/api/v1/sessions/{session_id}/messages?limit=500").get_json()["messages"]


def test_a_batch_is_stored_in_order_with_consecutive_ids_and_counted_once(client, session):
    active_before = client.get("/api/v1/sessions/s1").get_json()["last_active"]
    response = client.post("/api/v1/sessions/s1/messages", json={"messages": BATCH})
    assert response.status_code == 201
    body = response.get_json()
    assert body["session_id"] == "s1" and [m["content"] for m in body["messages"]] == [m["content"] for m in BATCH]
    ids = [m["id"] for m in body["messages"]]
    assert ids == list(range(ids[0], ids[0] + 4))
    assert body["messages"][1]["metadata"] == {"tool_calls": [{"id": "c1", "name": "add"}]}
    assert history(client)[1:] == body["messages"]
    after = client.get("/api/v1/sessions/s1").get_json()
    assert after["message_count"] == 5 and after["last_active"] > active_before


def test_one_bad_item_stores_nothing_and_the_422_names_each_bad_item_by_its_index(client, session, stored):
    before = stored()
    bad = [BATCH[0], {"role": "robot", "content": "x"}, BATCH[2], {"role": "user", "content": "a\x00b"}]
    response = client.post("/api/v1/sessions/s1/messages", json={"messages": bad})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"messages"} and set(errors["messages"]) == {"1", "3"}
    assert "must be one of" in errors["messages"]["1"]["role"][0]
    assert errors["messages"]["3"] == {"content": ["must not contain NUL characters"]}
    assert stored() == before and len(history(client)) == 1


def test_the_service_names_bad_items_the_same_way_from_python(service):
    service.get_or_create_session("s1")
    with pytest.raises(InvalidInput) as raised:
        service.save_messages("s1", [BATCH[0], {"role": "user", "content": "x" * 100_001}])
    assert raised.value.errors == {"messages": {"1": {"content": ["must be at most 100000 characters"]}}}
    assert "messages: 1: content: must be at most 100000 characters" in str(raised.value)
    assert service.get_chat_history("s1") == []


@pytest.mark.parametrize(
    "body, field, problem",
    [
        ({"messages": []}, "messages", "must hold at least 1 message"),
        ({"messages": [BATCH[0]] * 101}, "messages", "must hold at most 100 messages (MAX_BATCH_MESSAGES)"),
        ({"messages": [BATCH[0]], "content": "x"}, "content", "not allowed with messages"),
        ({"content": "x"}, "role", "Missing data for required field."),
    ],
)
def test_a_batch_that_is_empty_too_long_or_mixed_with_one_message_is_422(client, session, stored, body, field, problem):
    before = stored()
    response = client.post("/api/v1/sessions/s1/messages", json=body)
    assert response.status_code == 422 and response.get_json()["errors"][field] == [problem]
    assert stored() == before


def test_a_batch_for_a_missing_session_is_404_and_stores_nothing(client, stored):
    response = client.post("/api/v1/sessions/nope/messages", json={"messages": BATCH})
    assert response.status_code == 404 and stored() == (0, 0)


def test_an_idempotency_key_covers_the_batch_whole(client, session):
    headers = {"Idempotency-Key": "batch-1"}
    first = client.post("/api/v1/sessions/s1/messages", json={"messages": BATCH}, headers=headers)
    again = client.post("/api/v1/sessions/s1/messages", json={"messages": BATCH}, headers=headers)
    assert first.status_code == again.status_code == 201 and again.get_json() == first.get_json()
    assert len(history(client)) == 5
    changed = client.post("/api/v1/sessions/s1/messages", json={"messages": BATCH[:3]}, headers=headers)
    assert changed.status_code == 422 and "idempotency_key" in changed.get_json()["errors"]
    assert len(history(client)) == 5


def test_concurrent_batches_never_interleave(service):
    service.get_or_create_session("s1")
    start = threading.Barrier(20)

    def write(batch: int) -> None:
        start.wait()
        service.save_messages("s1", [{"role": "user", "content": f"{batch}:{i}"} for i in range(5)])

    threads = [threading.Thread(target=write, args=(batch,)) for batch in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    stored = [message.content.split(":") for message in service.get_chat_history("s1", limit=500)]
    assert len(stored) == 100 and service.get_session("s1").message_count == 100
    runs = [stored[i : i + 5] for i in range(0, 100, 5)]
    assert all([batch for batch, _ in run] == [run[0][0]] * 5 for run in runs)  # each batch together
    assert all([i for _, i in run] == ["0", "1", "2", "3", "4"] for run in runs)  # and in its order
    assert sorted(run[0][0] for run in runs) == sorted(str(batch) for batch in range(20))


def test_save_messages_on_a_missing_session_raises_and_stores_nothing(service):
    with pytest.raises(SessionNotFound):
        service.save_messages("nope", BATCH)
