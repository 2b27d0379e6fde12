"""SessionService call by call, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest

from backend.services.errors import InvalidInput, SessionNotFound
from backend.services.session import SessionService
from tests.factories import ChatMessageFactory, SessionFactory


def test_the_legacy_modules_documented_calls_work_as_written(service):
    session = service.get_or_create_session(session_id="abc123", metadata={"client": "web"})
    message_id = service.save_message(session_id="abc123", role="user", content="Hello!")
    history = service.get_chat_history(session_id="abc123", limit=50)
    stats = service.get_session_stats(session_id="abc123")
    assert session.session_id == "abc123" and session.metadata == {"client": "web"}
    assert [(m.id, m.role, m.content) for m in history] == [(message_id, "user", "Hello!")]
    assert stats.message_count == 1 and stats.messages_by_role == {"user": 1}


def test_a_new_session_starts_empty_with_utc_times(service):
    session = service.get_or_create_session(session_id="s1", device_fingerprint="fp-1")
    assert session.message_count == 0
    assert session.device_fingerprint == "fp-1"
    assert session.created_at.tzinfo == UTC
    assert abs(session.created_at - datetime.now(UTC)) < timedelta(seconds=30)
    assert session.last_active == session.created_at


def test_without_an_id_a_new_unguessable_one_is_generated(service):
    ids = {service.get_or_create_session().session_id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 22 for i in ids)  # 24 random bytes -> 32 url-safe characters


def test_an_existing_session_only_gets_last_active_refreshed(service):
    first = service.get_or_create_session("s1", metadata={"a": 1}, device_fingerprint="fp")
    again, created = service.open_session("s1", metadata={"b": 2}, device_fingerprint="other")
    assert created is False
    assert again.metadata == {"a": 1} and again.device_fingerprint == "fp"
    assert again.created_at == first.created_at
    assert again.last_active > first.last_active


def test_open_session_reports_creation(service):
    assert service.open_session("s1")[1] is True
    assert service.open_session("s1")[1] is False


def test_save_message_counts_and_refreshes_last_active(service):
    before = service.get_or_create_session("s1")
    ids = [service.save_message("s1", role, f"m{i}") for i, role in enumerate(["user", "assistant", "tool"])]
    after = service.get_session("s1")
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert after.message_count == 3
    assert after.last_active > before.last_active


def test_save_message_keeps_metadata_and_unicode_exactly(service):
    service.get_or_create_session("s1")
    text = "héllo 👋 \u202e ' OR 1=1; -- $(rm -rf /)"
    message = service.add_message("s1", "user", text, metadata={"lang": "fr", "nested": {"x": [1, 2]}})
    (stored,) = service.get_chat_history("s1")
    assert stored == message
    assert stored.content == text and stored.metadata == {"lang": "fr", "nested": {"x": [1, 2]}}


def test_save_message_to_an_unknown_session_raises_and_writes_nothing(service, engine):
    with pytest.raises(SessionNotFound):
        service.save_message("nope", "user", "hi")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM chat_history").scalar() == 0


def test_history_is_the_newest_messages_oldest_first(service):
    service.get_or_create_session("s1")
    ids = [service.save_message("s1", "user", f"m{i}") for i in range(10)]
    assert [m.id for m in service.get_chat_history("s1", limit=3)] == ids[-3:]
    assert [m.id for m in service.get_chat_history("s1", limit=3, before=ids[5])] == ids[2:5]
    assert [m.id for m in service.get_chat_history("s1", limit=50, before=ids[1])] == ids[:1]
    assert service.get_chat_history("s1", before=ids[0]) == []


def test_history_orders_by_id_not_by_timestamp_text(db, service):
    session = SessionFactory()
    later = ChatMessageFactory(session=session, timestamp=datetime(2024, 5, 6, 23, 0, tzinfo=UTC))
    earlier_text = ChatMessageFactory(session=session, timestamp=datetime(2024, 5, 6, 7, 0, tzinfo=UTC))
    assert [m.id for m in service.get_chat_history(session.session_id)] == [later.id, earlier_text.id]


def test_history_of_an_unknown_session_raises(service):
    with pytest.raises(SessionNotFound):
        service.get_chat_history("nope")


def test_history_of_an_empty_session_is_empty(service):
    service.get_or_create_session("s1")
    assert service.get_chat_history("s1") == []


def test_stats_count_roles_and_give_first_and_last_times(service):
    service.get_or_create_session("s1")
    for role in ["system", "user", "assistant", "user", "tool"]:
        service.save_message("s1", role, "x")
    history = service.get_chat_history("s1")
    stats = service.get_session_stats("s1")
    assert stats.messages_by_role == {"system": 1, "user": 2, "assistant": 1, "tool": 1}
    assert stats.message_count == 5
    assert stats.first_message_at == history[0].timestamp
    assert stats.last_message_at == history[-1].timestamp


def test_stats_of_a_session_without_messages(service):
    service.get_or_create_session("s1")
    stats = service.get_session_stats("s1")
    assert (stats.message_count, stats.first_message_at, stats.last_message_at, stats.messages_by_role) == (
        0,
        None,
        None,
        {},
    )


def test_update_merges_metadata_shallowly_and_removes_none_keys(service):
    service.get_or_create_session("s1", metadata={"a": 1, "b": {"x": 1}, "c": 3})
    updated = service.update_session("s1", metadata={"b": {"y": 2}, "c": None, "d": 4})
    assert updated.metadata == {"a": 1, "b": {"y": 2}, "d": 4}
    assert service.get_session("s1").metadata == {"a": 1, "b": {"y": 2}, "d": 4}


def test_update_sets_or_clears_the_fingerprint_only_when_given(service):
    service.get_or_create_session("s1", device_fingerprint="fp")
    assert service.update_session("s1", metadata={"a": 1}).device_fingerprint == "fp"
    assert service.update_session("s1", device_fingerprint="fp2").device_fingerprint == "fp2"
    assert service.update_session("s1", device_fingerprint=None).device_fingerprint is None


def test_update_of_an_unknown_session_raises(service):
    with pytest.raises(SessionNotFound):
        service.update_session("nope", metadata={"a": 1})


def test_update_that_would_grow_metadata_past_the_limit_is_refused(service):
    service.get_or_create_session("s1", metadata={"a": "x" * 10_000})
    with pytest.raises(InvalidInput) as raised:
        service.update_session("s1", metadata={"b": "y" * 10_000})
    assert "metadata" in raised.value.errors
    assert service.get_session("s1").metadata == {"a": "x" * 10_000}


def test_delete_removes_the_session_and_its_messages(service, engine):
    service.get_or_create_session("s1")
    service.get_or_create_session("s2")
    service.save_message("s1", "user", "a")
    service.save_message("s2", "user", "b")
    service.delete_session("s1")
    with pytest.raises(SessionNotFound):
        service.get_session("s1")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT session_id FROM chat_history").scalars().all() == ["s2"]


def test_delete_of_an_unknown_session_raises(service):
    with pytest.raises(SessionNotFound):
        service.delete_session("nope")


def test_clear_history_keeps_the_session_and_resets_the_count(service):
    service.get_or_create_session("s1", metadata={"a": 1})
    service.save_message("s1", "user", "a")
    service.clear_history("s1")
    assert service.get_chat_history("s1") == []
    session = service.get_session("s1")
    assert session.message_count == 0 and session.metadata == {"a": 1}
    assert service.save_message("s1", "user", "again") > 0


def test_clear_history_of_an_unknown_session_raises(service):
    with pytest.raises(SessionNotFound):
        service.clear_history("nope")


def test_service_accepts_an_engine_as_well_as_a_url(engine):
    SessionService(engine).get_or_create_session("s1")
    assert SessionService(engine).get_session("s1").session_id == "s1"


def test_service_without_arguments_uses_the_configured_database(tmp_path, monkeypatch, sqlite_template):
    path = tmp_path / "configured.db"
    sqlite_template.copy_to(path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SESSION_DB_PATH", str(path))
    SessionService().get_or_create_session("configured")
    assert SessionService(f"sqlite:///{path}").get_session("configured").session_id == "configured"


def test_update_removes_only_the_keys_the_patch_sets_to_none(db, service):
    SessionFactory(session_id="s1", metadata_={"kept_null": None, "b": 1})
    updated = service.update_session("s1", metadata={"c": 2, "b": None})
    assert updated.metadata == {"kept_null": None, "c": 2}


def test_a_fingerprint_only_update_does_not_judge_oversized_legacy_metadata(db, service):
    SessionFactory(session_id="legacy-big", metadata_={"blob": "x" * 20_000})
    updated = service.update_session("legacy-big", device_fingerprint="new-device")
    assert updated.device_fingerprint == "new-device"
    assert updated.metadata == {"blob": "x" * 20_000}
