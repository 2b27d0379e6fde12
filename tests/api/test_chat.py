"""Chat and voice over HTTP: the agent sees recent history; its failures are 502 with the user's message kept."""

import pytest

from tests.fakes import agents


@pytest.fixture
def chat_client(make_app):
    def make(agent="recording", **settings):
        app = make_app(CHAT_AGENT=f"tests.fakes.agents:{agent}", **settings)
        client = app.test_client()
        client.post("/api/v1/sessions", json={"session_id": "s1"})
        return client

    agents.calls.clear()
    return make


def history(client):
    return [(m["role"], m["content"]) for m in client.get("/api/v1/sessions/s1/messages").get_json()["messages"]]


def test_chat_stores_the_message_and_the_reply_and_returns_both(client):
    client.post("/api/v1/sessions", json={"session_id": "s1"})
    response = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hello", "metadata": {"client": "web"}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["session_id"] == "s1"
    assert (body["message"]["role"], body["message"]["content"], body["message"]["metadata"]) == (
        "user",
        "hello",
        {"client": "web"},
    )
    assert (body["reply"]["role"], body["reply"]["content"]) == ("assistant", "echo: hello")
    assert history(client) == [("user", "hello"), ("assistant", "echo: hello")]
    assert client.get("/api/v1/sessions/s1").get_json()["message_count"] == 2


def test_the_agent_gets_the_session_and_at_most_the_history_limit_before_the_new_message(chat_client):
    client = chat_client(AGENT_HISTORY_LIMIT=3)
    for i in range(4):
        client.post("/api/v1/sessions/s1/messages", json={"role": "user", "content": f"old {i}"})
    reply = client.post("/api/v1/chat", json={"session_id": "s1", "message": "new"}).get_json()["reply"]
    request = agents.calls[-1]
    assert request.session.session_id == "s1"
    assert [m.content for m in request.history] == ["old 1", "old 2", "old 3"]
    assert request.message.content == "new"
    assert (reply["content"], reply["metadata"]) == ("seen 3", {"agent": "recording"})


def test_chat_with_an_unknown_session_is_404_and_stores_nothing(chat_client, stored):
    client = chat_client()
    assert client.post("/api/v1/chat", json={"session_id": "nope", "message": "hi"}).status_code == 404
    assert stored() == (1, 0) and agents.calls == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"message": "hi"}, "session_id"),
        ({"session_id": "s1"}, "message"),
        ({"session_id": "s1", "message": ""}, "message"),
        ({"session_id": "s1", "message": "hi", "mood": "x"}, "mood"),
    ],
)
def test_a_bad_chat_request_is_422_and_stores_nothing(chat_client, stored, body, field):
    client = chat_client()
    response = client.post("/api/v1/chat", json=body)
    assert response.status_code == 422 and field in response.get_json()["errors"]
    assert stored() == (1, 0)


@pytest.mark.parametrize("agent", ["failing", "garbage", "huge"])
def test_a_failing_agent_is_502_and_the_users_message_stays_stored_once(chat_client, agent):
    client = chat_client(agent)
    response = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"})
    assert response.status_code == 502
    assert "the message was stored" in response.get_json()["message"]
    assert "/secret/path" not in response.get_data(as_text=True)
    assert history(client) == [("user", "hi")]


def test_a_hanging_agent_is_502_within_the_timeout(chat_client):
    import time

    client = chat_client("hanging", AGENT_TIMEOUT_S=0.3)
    started = time.monotonic()
    response = client.post("/api/v1/chat", json={"session_id": "s1", "message": "hi"})
    assert response.status_code == 502 and time.monotonic() - started < 2
    assert history(client) == [("user", "hi")]


def test_voice_marks_both_messages_and_keeps_the_audio_details_on_the_users(chat_client):
    client = chat_client()
    audio = {"format": "opus", "duration_ms": 1200, "language": "fr-FR"}
    response = client.post(
        "/api/v1/voice",
        json={"session_id": "s1", "transcript": "bonjour", "audio": audio, "metadata": {"device": "car"}},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"]["content"] == "bonjour"
    assert body["message"]["metadata"] == {"device": "car", "modality": "voice", "audio": audio}
    assert body["reply"]["metadata"] == {"agent": "recording", "modality": "voice"}
    assert agents.calls[-1].message.metadata["modality"] == "voice"


def test_voice_without_audio_is_still_marked_voice(chat_client):
    body = chat_client().post("/api/v1/voice", json={"session_id": "s1", "transcript": "hi"}).get_json()
    assert body["message"]["metadata"] == {"modality": "voice"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"session_id": "s1"}, "transcript"),
        ({"session_id": "s1", "transcript": "t", "audio": {"duration_ms": "long"}}, "audio.duration_ms"),
        ({"session_id": "s1", "transcript": "t", "audio": {"duration_ms": -1}}, "audio.duration_ms"),
        ({"session_id": "s1", "transcript": "t", "audio": {"codec": "x"}}, "audio.codec"),
        ({"session_id": "s1", "transcript": "t", "audio": {"format": "x" * 20_000}}, "audio"),
    ],
)
def test_a_bad_voice_request_is_422_and_stores_nothing(chat_client, stored, body, field):
    client = chat_client()
    response = client.post("/api/v1/voice", json=body)
    assert response.status_code == 422 and field in response.get_json()["errors"], response.get_json()
    assert stored() == (1, 0)


def test_voice_for_an_unknown_session_is_404_and_a_failing_agent_502(chat_client):
    assert chat_client().post("/api/v1/voice", json={"session_id": "nope", "transcript": "t"}).status_code == 404
    client = chat_client("failing")
    assert client.post("/api/v1/voice", json={"session_id": "s1", "transcript": "t"}).status_code == 502
    assert history(client) == [("user", "t")]
