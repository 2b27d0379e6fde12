"""Compaction in the service: replace_history supersedes the history (or its newest messages) and appends the
replacement in one transaction, never deleting; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.services.errors import InvalidInput, SessionNotFound, TurnInProgress
from backend.services.idempotency import now


def conversation(service, session_id="s1", n=4):
    service.get_or_create_session(session_id)
    return service.save_messages(
        session_id, [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(n)]
    )


def contents(service, session_id="s1"):
    """(content, superseded) of every stored message, oldest first."""
    page = service.get_history_page(session_id, include_superseded=True)
    return [(m.content, m.id in page.superseded) for m in page.messages]


SUMMARY = [{"role": "assistant", "content": "summary", "metadata": {"kind": "compaction"}}]


def test_the_newest_messages_are_superseded_and_the_replacement_appended(service):
    stored = conversation(service)
    added = service.replace_history("s1", SUMMARY, replacing=stored[2:])
    assert [(m.role, m.content, m.metadata) for m in added] == [("assistant", "summary", {"kind": "compaction"})]
    assert service.get_chat_history("s1") == [*stored[:2], *added]
    assert contents(service) == [("m0", False), ("m1", False), ("m2", True), ("m3", True), ("summary", False)]
    assert service.get_session("s1").message_count == 3


def test_replacing_what_is_no_longer_the_newest_changes_nothing(service):
    stored = conversation(service)
    newer = service.add_message("s1", "user", "landed since the read")
    assert service.replace_history("s1", SUMMARY, replacing=stored[2:]) is None
    assert service.get_chat_history("s1") == [*stored, newer]
    # A message taken out since the read counts as a change too.
    service.rewind("s1", stored[2].id)
    assert service.replace_history("s1", SUMMARY, replacing=stored[2:]) is None
    assert service.get_chat_history("s1") == stored[:3]


def test_without_replacing_the_whole_history_is_replaced_and_an_empty_replacement_is_allowed(service):
    conversation(service)
    service.replace_history("s1", SUMMARY)
    assert contents(service) == [*((f"m{i}", True) for i in range(4)), ("summary", False)]
    assert service.replace_history("s1", []) == []
    assert contents(service) == [*((f"m{i}", True) for i in range(4)), ("summary", True)]
    assert service.get_session("s1").message_count == 0


def test_an_expired_prefix_is_retired_up_to_the_first_message_that_is_not(service):
    stored = conversation(service, n=6)
    expired = {"m0", "m1", "m3"}  # m2 is not: it and everything after it stay
    service.replace_history("s1", SUMMARY, replacing=stored[4:], retire_prefix=lambda m: m.content in expired)
    assert [m.content for m in service.get_chat_history("s1")] == ["m2", "m3", "summary"]
    assert service.get_session("s1").message_count == 3


def test_an_expired_prefix_over_several_pages_is_retired_whole(service):
    conversation(service, n=100)
    service.save_messages("s1", [{"role": "user", "content": f"m{i}"} for i in range(100, 200)])
    service.save_messages("s1", [{"role": "user", "content": f"m{i}"} for i in range(200, 230)])
    live = service.save_messages("s1", [{"role": "user", "content": f"live {i}"} for i in range(3)])
    service.replace_history("s1", [], replacing=live[1:], retire_prefix=lambda m: m.content.startswith("m"))
    assert [m.content for m in service.get_chat_history("s1")] == ["live 0"]
    assert service.get_session("s1").message_count == 1
    assert len(service.get_history_page("s1", limit=500, include_superseded=True).superseded) == 232


def test_a_bad_replacement_or_a_running_turn_changes_nothing(service):
    stored = conversation(service)
    with pytest.raises(InvalidInput) as raised:
        service.replace_history("s1", [*SUMMARY, {"role": "robot", "content": "x"}], replacing=stored[2:])
    assert set(raised.value.errors["messages"]) == {"1"}
    with pytest.raises(InvalidInput):
        service.replace_history("s1", SUMMARY, replacing=[])
    with service.uow.write() as store:
        store.leases.take("s1", "a-running-turn", now(), now() + timedelta(seconds=5))
    with pytest.raises(TurnInProgress):
        service.replace_history("s1", SUMMARY, replacing=stored[2:])
    with pytest.raises(SessionNotFound):
        service.replace_history("s1", SUMMARY, owner="someone-else")
    with pytest.raises(SessionNotFound):
        service.replace_history("nobody", SUMMARY)
    assert service.get_chat_history("s1") == stored
    assert contents(service) == [(f"m{i}", False) for i in range(4)]
