"""One source of value rules: the same words from Python and over HTTP, every bad field named at once."""

import pytest

from backend.services.agents import echo_agent
from backend.services.errors import InvalidInput
from backend.services.turns.service import ChatService


def problems_from_python(call) -> dict:
    with pytest.raises(InvalidInput) as raised:
        call()
    return raised.value.errors


def test_a_new_session_with_three_bad_fields_is_one_422_naming_all_three(client, stored):
    response = client.post("/api/v1/sessions", json={"session_id": "bad id!", "device_fingerprint": 5, "metadata": []})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"session_id", "device_fingerprint", "metadata"}
    assert stored() == (0, 0)


def test_the_same_three_bad_fields_read_the_same_from_python(client, service):
    over_http = client.post("/api/v1/sessions", json={"session_id": "bad id!", "device_fingerprint": 5, "metadata": []})
    from_python = problems_from_python(lambda: service.open_session("bad id!", [], 5))
    assert over_http.get_json()["errors"] == from_python


def test_a_bad_role_and_an_empty_content_are_named_together_in_the_service_words(client, service, stored):
    service.get_or_create_session("s1")
    response = client.post("/api/v1/sessions/s1/messages", json={"role": "bot", "content": ""})
    assert response.status_code == 422
    from_python = problems_from_python(lambda: service.add_message("s1", "bot", ""))
    assert (
        response.get_json()["errors"]
        == from_python
        == {"role": ["must be one of: user, assistant, system, tool"], "content": ["must not be empty"]}
    )
    assert stored() == (1, 0)


def test_a_missing_field_and_a_bad_one_are_named_in_one_answer(client, service):
    service.get_or_create_session("s1")
    response = client.post("/api/v1/sessions/s1/messages", json={"role": "bot"})
    assert response.status_code == 422 and set(response.get_json()["errors"]) == {"role", "content"}


def test_the_page_maximum_holds_from_python_and_over_http(client, service):
    service.get_or_create_session("s1")
    over_http = client.get("/api/v1/sessions/s1/messages?limit=10000").get_json()["errors"]
    assert (
        over_http
        == problems_from_python(lambda: service.get_chat_history("s1", limit=10000))
        == {"limit": ["must be at most 500"]}
    )


@pytest.mark.parametrize(
    "audio, field",
    [
        ({"duration_ms": -1}, "audio.duration_ms"),
        ({"duration_ms": True}, "audio.duration_ms"),
        ({"format": 5}, "audio.format"),
        ({"codec": "opus"}, "audio.codec"),
        ("wav", "audio"),
    ],
)
def test_the_voice_audio_rules_hold_from_python_as_over_http(client, service, audio, field, stored):
    service.get_or_create_session("s1")
    over_http = client.post("/api/v1/voice", json={"session_id": "s1", "transcript": "hi", "audio": audio})
    turns = ChatService(service, echo_agent)
    from_python = problems_from_python(lambda: turns.voice("s1", "hi", audio=audio))
    assert over_http.status_code == 422
    assert over_http.get_json()["errors"] == from_python and field in from_python
    assert stored() == (1, 0)


def test_dot_and_dot_dot_cannot_name_a_new_session(client, stored):
    for session_id in (".", ".."):
        response = client.post("/api/v1/sessions", json={"session_id": session_id})
        assert response.status_code == 422 and response.get_json()["errors"] == {"session_id": ["must not be . or .."]}
    assert stored() == (0, 0)
