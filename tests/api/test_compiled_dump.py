"""The compiled response dumping gives exactly what marshmallow's own dump gives."""

from datetime import UTC, timedelta, timezone

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import fields

from backend.schemas.chat import ChatResponseSchema
from backend.schemas.compiled import CompiledDumpMixin, compile_dumper
from backend.schemas.messages import HistoryPageSchema, MessageSchema
from backend.schemas.sessions import SessionPageSchema, SessionSchema, SessionStatsSchema
from backend.store.records import MessageRecord, SessionRecord

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
times = st.none() | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
metadata = st.dictionaries(st.text(), json_values, max_size=4)
messages = st.builds(
    MessageRecord, st.integers(1, 2**62), st.text(), st.sampled_from(["user", "tool"]), st.text(), times, metadata
)
sessions = st.builds(SessionRecord, st.text(), st.none() | st.text(), times, times, st.integers(0, 10**9), metadata)


def marshmallow_dump(schema, obj):
    return ma.Schema.dump(schema, obj)


@settings(max_examples=200, deadline=None)
@given(
    page=st.fixed_dictionaries(
        {"session_id": st.text(), "messages": st.lists(messages, max_size=5), "next_before": st.none() | st.integers(1)}
    )
)
def test_history_pages_dump_the_same(page):
    schema = HistoryPageSchema()
    assert schema.dump(page) == marshmallow_dump(schema, page)


@settings(max_examples=200, deadline=None)
@given(message=messages, reply=messages, session_id=st.text())
def test_chat_answers_dump_the_same(message, reply, session_id):
    answer = {"session_id": session_id, "message": message, "reply": reply}
    schema = ChatResponseSchema()
    assert schema.dump(answer) == marshmallow_dump(schema, answer)


@settings(max_examples=200, deadline=None)
@given(session=sessions, page=st.lists(sessions, max_size=4), cursor=st.none() | st.text())
def test_sessions_and_their_pages_dump_the_same(session, page, cursor):
    assert SessionSchema().dump(session) == marshmallow_dump(SessionSchema(), session)
    listing = {"sessions": page, "next_cursor": cursor}
    assert SessionPageSchema().dump(listing) == marshmallow_dump(SessionPageSchema(), listing)


def test_the_hot_response_schemas_are_compiled():
    for schema in (MessageSchema(), HistoryPageSchema(), SessionSchema(), ChatResponseSchema(), SessionPageSchema()):
        assert compile_dumper(schema) is not None, schema


def test_a_schema_with_a_field_it_does_not_know_stays_on_marshmallow():
    assert compile_dumper(SessionStatsSchema()) is None  # Dict with typed values

    class Odd(ma.Schema):
        when = fields.DateTime(format="%Y")

    assert compile_dumper(Odd()) is None


def test_a_schema_with_a_dump_hook_stays_on_marshmallow():
    class Hooked(ma.Schema):
        name = fields.String()

        @ma.post_dump
        def shout(self, data, **kwargs):
            return {k: v.upper() for k, v in data.items()}

    assert compile_dumper(Hooked()) is None


@pytest.mark.parametrize("obj", [{"id": 1}, MessageRecord(1, "s", "user", "c", None, {})])
def test_missing_keys_are_left_out_and_none_stays_none(obj):
    schema = MessageSchema()
    assert schema.dump(obj) == marshmallow_dump(schema, obj)


# -- every field option the compiler accepts, on generated schemas --------------------------
_kinds = {
    "int": (lambda **kw: fields.Integer(**kw), st.integers(-(2**40), 2**40)),
    "str": (lambda **kw: fields.String(**kw), st.text(max_size=5)),
    "time": (lambda **kw: fields.DateTime(format="iso", **kw), st.datetimes(timezones=st.just(UTC))),
    "dict": (lambda **kw: fields.Dict(keys=fields.String(), **kw), metadata),
}


@st.composite
def schemas_and_objects(draw):
    declared, obj = {}, {}
    for i, kind in enumerate(draw(st.lists(st.sampled_from(sorted(_kinds)), min_size=1, max_size=5))):
        make, values = _kinds[kind]
        options = {}
        if draw(st.booleans()):
            options["data_key"] = f"key{i}"
        if draw(st.booleans()):
            options["attribute"] = f"attr{i}"
        if draw(st.booleans()):
            default = draw(values)
            options["dump_default"] = (lambda d=default: d) if draw(st.booleans()) else default
        options["allow_none"] = draw(st.booleans())
        declared[f"field{i}"] = make(**options)
        present = draw(st.sampled_from(["value", "none", "absent"]))
        if present != "absent":
            obj[options.get("attribute", f"field{i}")] = draw(values) if present == "value" else None
    return type("Generated", (CompiledDumpMixin, ma.Schema), declared)(), obj


@settings(max_examples=300, deadline=None)
@given(case=schemas_and_objects())
def test_data_key_attribute_dump_default_and_none_dump_the_same(case):
    schema, obj = case
    assert compile_dumper(schema) is not None
    assert schema.dump(obj) == marshmallow_dump(schema, obj)


def test_options_it_cannot_honour_leave_the_schema_on_marshmallow():
    as_string = type("AsString", (ma.Schema,), {"n": fields.Integer(as_string=True)})()
    dotted = type("Dotted", (ma.Schema,), {"n": fields.Integer(attribute="a.b")})()
    hooked = type(
        "Hooked", (ma.Schema,), {"n": fields.Integer(), "hook": ma.post_dump(lambda self, data, **kw: data)}
    )()
    assert [compile_dumper(s) for s in (as_string, dotted, hooked)] == [None, None, None]


def test_a_record_without_a_field_dumps_its_default_or_nothing_and_a_property_is_read():
    from dataclasses import dataclass

    @dataclass(frozen=True, slots=True)
    class Hit:
        id: int
        name: str | None

        @property
        def label(self) -> str:
            return f"#{self.id}"

    class HitSchema(CompiledDumpMixin, ma.Schema):
        id = fields.Integer()
        name = fields.String()
        label = fields.String()
        kind = fields.String(dump_default="hit")
        absent = fields.Boolean()

    for hit in (Hit(7, "seven"), Hit(8, None)):
        assert HitSchema().dump(hit) == marshmallow_dump(HitSchema(), hit)
    assert list(HitSchema().dump(Hit(7, "x"))) == ["id", "name", "label", "kind"]
    assert HitSchema().dump({"id": 3}) == {"id": 3, "kind": "hit"}
