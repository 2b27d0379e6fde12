"""Answers written by orjson from a compiled dump (backend.schemas.compiled) are byte for byte what flask.jsonify
writes; where they could differ (floats, NaN, integers past 64 bits, lone surrogates) Flask's encoder writes them."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import flask
from hypothesis import given, settings
from hypothesis import strategies as st

from backend import create_app
from backend import settings as app_settings
from backend.schemas.chat import ChatResponseSchema
from backend.schemas.compiled import FreeForm, plain_json
from backend.schemas.messages import AppendedSchema, HistoryPageSchema, MessageSchema
from backend.schemas.sessions import SessionPageSchema, SessionSchema
from backend.store.records import HistoryPage, MessageRecord, SessionRecord
from backend.web.blueprint import _DUMP_AS_IT_IS, _json_answer

# Every JSON value Python's json module reads, and more: floats of every size and NaN, integers past 64 bits, text
# with control characters, line separators and lone surrogates.
any_text = st.text(st.characters(codec=None, exclude_categories=()))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70) | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
# UTC, which a record hands to orjson as it is; offsets it must not (one of seconds, which orjson writes otherwise).
offsets = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(minutes=-1, seconds=-30))]
times = st.none() | st.datetimes(timezones=st.sampled_from(offsets))
metadata = st.dictionaries(any_text, json_values, max_size=4)
messages = st.builds(MessageRecord, st.integers(1, 2**62), any_text, any_text, any_text, times, metadata)
sessions = st.builds(SessionRecord, any_text, st.none() | any_text, times, times, st.integers(0, 10**9), metadata)
pages = st.fixed_dictionaries(
    {"session_id": any_text, "messages": st.lists(messages, max_size=4), "next_before": st.none() | st.integers(1)}
)
page_records = st.builds(
    HistoryPage, any_text, st.lists(messages, max_size=4), st.none() | st.integers(1), st.frozensets(st.integers(1))
)

APP = create_app(app_settings.TestingConfig(DATABASE_URL="sqlite://"))


def as_flask_writes(dumped) -> bytes:
    with APP.app_context():
        return flask.jsonify(dumped).get_data()


def as_answered(schema, obj) -> tuple[bytes, bool]:
    """The answer's bytes, and whether orjson wrote them."""
    with APP.app_context():
        return _json_answer(schema, obj, _DUMP_AS_IT_IS).get_data(), schema.json_answer(obj) is not None


def check(schema, obj):
    dumped = schema.dump(obj)
    try:
        expected = as_flask_writes(dumped)
    except UnicodeEncodeError:  # a lone surrogate: Flask cannot answer it either, and orjson must not have
        assert schema.json_answer(obj) is None
        return
    answered, by_orjson = as_answered(schema, obj)
    assert answered == expected
    # orjson writes every answer whose values are all plain; Flask's encoder only the others.
    written = json.loads(expected)
    assert by_orjson == (plain_json(written) and all(-(2**63) <= n < 2**64 for n in _integers(written)))


def _integers(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _integers(item)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield value


@settings(max_examples=300, deadline=None)
@given(page=pages, record=page_records)
def test_history_pages_are_written_as_flask_writes_them(page, record):
    check(HistoryPageSchema(), page)
    check(HistoryPageSchema(), record)


@settings(max_examples=200, deadline=None)
@given(message=messages, batch=st.lists(messages, min_size=1, max_size=3))
def test_messages_and_appended_batches_are_written_as_flask_writes_them(message, batch):
    check(MessageSchema(), message)
    check(AppendedSchema(), message)
    check(AppendedSchema(), batch)


@settings(max_examples=100, deadline=None)
@given(session=sessions, listing=st.lists(sessions, max_size=3), reply=messages, user=messages)
def test_sessions_listings_and_chat_answers_are_written_as_flask_writes_them(session, listing, reply, user):
    check(SessionSchema(), session)
    check(SessionPageSchema(), {"sessions": listing, "next_cursor": None})
    check(ChatResponseSchema(), {"session_id": "s", "message": user, "reply": reply, "turn_id": "t"})


def test_the_values_orjson_would_write_differently_are_written_by_flasks_encoder():
    schema = MessageSchema()
    for value, flask_writes in (
        (1e-05, b"1e-05"),
        (math.nan, b"NaN"),
        (math.inf, b"Infinity"),
        (2**64, b"18446744073709551616"),
    ):
        record = MessageRecord(1, "s", "user", "hi", None, {"x": [value]})
        assert isinstance(schema.dump(record)["metadata"], FreeForm) or value == 2**64
        answered, by_orjson = as_answered(schema, record)
        assert not by_orjson and b'"x":[' + flask_writes + b"]" in answered


def test_an_answer_of_plain_values_is_written_by_orjson_even_with_non_ascii_and_control_characters():
    schema = MessageSchema()
    text = 'Grüße "quoted" \\ \x00\x1f\x7f\u2028 😀'
    record = MessageRecord(7, "s-ü", "user", text, None, {"b": [1, None], "a": True})
    answered, by_orjson = as_answered(schema, record)
    assert by_orjson and answered == as_flask_writes(schema.dump(record))
    assert answered.startswith('{"content":"Grüße \\"quoted\\" \\\\ \\u0000\\u001f\x7f\u2028 😀"'.encode())


def test_a_record_of_plain_values_is_handed_to_orjson_as_it_is():
    # Nothing formatted or copied on the way (a history page's cost): the datetime and the metadata themselves.
    when = datetime(2026, 12, 7, 4, 0, 0, 1234, tzinfo=UTC)
    record = MessageRecord(7, "s", "user", "hi", when, {"a": [1, "b"]})
    page = HistoryPage("s", [record], None)
    [dumped] = HistoryPageSchema().json_dump(page)["messages"]
    assert dumped["timestamp"] is when and dumped["metadata"] is record.metadata
    assert as_answered(MessageSchema(), record) == (as_flask_writes(MessageSchema().dump(record)), True)
    # Another offset, or metadata with a float: converted as the dump converts them.
    shifted = MessageRecord(7, "s", "user", "hi", when.astimezone(timezone(timedelta(hours=1))), {"a": 0.5})
    dumped = MessageSchema().json_dump(shifted)
    assert dumped["timestamp"] == "2026-12-07T05:00:00.001234+01:00" and isinstance(dumped["metadata"], FreeForm)
