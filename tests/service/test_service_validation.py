"""Every bad value is refused with an error naming its field, and nothing is written."""

import pytest

from backend.services.errors import InvalidInput
from backend.services.session import SessionService
from backend.settings import Limits
from tests.factories import SessionFactory
from tests.rows import row_counts


def assert_refused(call, field, engine):
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as raised:
        call()
    assert field in raised.value.errors, raised.value.errors
    assert field in str(raised.value)
    assert row_counts(engine) == before


BAD_NEW_IDS = ["", "a" * 129, "has space", "slash/inside", "../etc/passwd", "emoji👋", "nul\x00", "semi;colon"]


@pytest.mark.parametrize("bad_id", BAD_NEW_IDS)
def test_a_malformed_new_session_id_is_refused(service, engine, bad_id):
    assert_refused(lambda: service.get_or_create_session(bad_id), "session_id", engine)


@pytest.mark.parametrize("bad_id", [123, b"bytes", ["list"]])
def test_a_session_id_that_is_not_a_string_is_refused(service, engine, bad_id):
    assert_refused(lambda: service.get_or_create_session(bad_id), "session_id", engine)


def test_the_longest_well_formed_id_is_accepted(service):
    good = "aZ0._:-" + "x" * 121
    assert service.get_or_create_session(good).session_id == good


def test_a_legacy_session_with_an_irregular_id_keeps_working(db, service):
    legacy = SessionFactory(session_id="legacy id/with spaces")
    again, created = service.open_session(legacy.session_id)
    assert created is False
    assert service.save_message(legacy.session_id, "user", "still works") > 0
    assert service.get_session_stats(legacy.session_id).message_count == 1


@pytest.mark.parametrize("bad_role", ["", "User", "admin", None, 1])
def test_an_unknown_role_is_refused(service, engine, bad_role):
    service.get_or_create_session("s1")
    assert_refused(lambda: service.save_message("s1", bad_role, "hi"), "role", engine)


@pytest.mark.parametrize("bad_content", ["", None, 42, ["x"], "x" * 100_001, "nul\x00byte"])
def test_bad_content_is_refused(service, engine, bad_content):
    service.get_or_create_session("s1")
    assert_refused(lambda: service.save_message("s1", "user", bad_content), "content", engine)


def test_content_at_the_limit_is_accepted(service):
    service.get_or_create_session("s1")
    service.save_message("s1", "user", "x" * 100_000)
    assert len(service.get_chat_history("s1")[0].content) == 100_000


BAD_METADATA = [["list"], "text", 5, {"k": {1, 2}}, {"k": float("nan")}, {"k": object()}, {"big": "x" * 16_385}]


@pytest.mark.parametrize("bad_metadata", BAD_METADATA)
def test_bad_message_metadata_is_refused(service, engine, bad_metadata):
    service.get_or_create_session("s1")
    assert_refused(lambda: service.save_message("s1", "user", "hi", metadata=bad_metadata), "metadata", engine)


@pytest.mark.parametrize("bad_metadata", BAD_METADATA)
def test_bad_session_metadata_is_refused(service, engine, bad_metadata):
    assert_refused(lambda: service.get_or_create_session("s1", metadata=bad_metadata), "metadata", engine)


def test_metadata_nested_thousands_deep_is_refused(service, engine):
    deep = {}
    node = deep
    for _ in range(5000):
        node["k"] = {}
        node = node["k"]
    assert_refused(lambda: service.get_or_create_session("s1", metadata=deep), "metadata", engine)


@pytest.mark.parametrize("bad_fingerprint", [123, "f" * 257, "nul\x00"])
def test_a_bad_fingerprint_is_refused(service, engine, bad_fingerprint):
    assert_refused(
        lambda: service.get_or_create_session("s1", device_fingerprint=bad_fingerprint), "device_fingerprint", engine
    )


def test_a_bad_fingerprint_in_an_update_is_refused(service, engine):
    service.get_or_create_session("s1", device_fingerprint="fp")
    assert_refused(lambda: service.update_session("s1", device_fingerprint="f" * 257), "device_fingerprint", engine)
    assert service.get_session("s1").device_fingerprint == "fp"


@pytest.mark.parametrize(
    "field,kwargs",
    [("limit", {"limit": 0}), ("limit", {"limit": "5"}), ("limit", {"limit": True}), ("before", {"before": -1})],
)
def test_bad_history_arguments_are_refused(service, engine, field, kwargs):
    service.get_or_create_session("s1")
    assert_refused(lambda: service.get_chat_history("s1", **kwargs), field, engine)


def test_every_bad_field_is_named_at_once(service):
    service.get_or_create_session("s1")
    with pytest.raises(InvalidInput) as raised:
        service.save_message("s1", "nobody", "", metadata=[1])
    assert set(raised.value.errors) == {"role", "content", "metadata"}


def test_limits_are_configurable(database_url):
    strict = SessionService(database_url, limits=Limits(max_content_chars=5, max_metadata_bytes=10))
    strict.get_or_create_session("s1")
    with pytest.raises(InvalidInput):
        strict.save_message("s1", "user", "123456")
    with pytest.raises(InvalidInput):
        strict.save_message("s1", "user", "ok", metadata={"k": "0123456789"})
    assert strict.save_message("s1", "user", "12345") > 0


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MAX_CONTENT_CHARS", "7")
    monkeypatch.setenv("MAX_METADATA_BYTES", "99")
    assert Limits.from_env() == Limits(max_content_chars=7, max_metadata_bytes=99)
