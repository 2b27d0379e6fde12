"""A body of fields taken as sent, and a query string of strings and integers, are loaded in one pass
(StrictSchema.load_as_sent, load_query_as_sent): the same dict as marshmallow's load, and None (marshmallow then
names the problem) whenever marshmallow would refuse it."""

from __future__ import annotations

import flask
import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from backend.schemas import chat, headers, messages, owners, search, sessions, turns  # noqa: F401 - every subclass
from backend.schemas.base import StrictSchema, _one_pass_plan, _query_field
from backend.web.blueprint import Blueprint


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


ONE_PASS = sorted((cls for cls in _subclasses(StrictSchema) if _one_pass_plan(cls()) is not None), key=str)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _bodies(schema: StrictSchema):
    names = list(schema.load_fields) + ["unknown", "messages"]
    roles = st.sampled_from(["user", "assistant", "system", "tool", "nobody", "", "continue", "stop", "s-1"])
    value = st.one_of(json_values, roles, st.text(min_size=0, max_size=40))
    return st.dictionaries(st.sampled_from(names), value, max_size=5) | json_values


def test_the_one_pass_covers_the_turn_and_message_bodies():
    names = {cls.__name__ for cls in ONE_PASS}
    assert {"MessageCreateSchema", "MessageItemSchema", "ChatRequestSchema", "VoiceRequestSchema"} <= names
    body = {"role": "user", "content": "hello", "metadata": {"a": 1}}
    assert messages.MessageCreateSchema().load_as_sent(body) == {
        "role": "user",
        "content": "hello",
        "metadata": {"a": 1},
    }
    turn = {"message": "hi", "session_id": "s-1"}
    assert chat.ChatRequestSchema().load_as_sent(turn) == {
        "session_id": "s-1",
        "message": "hi",
        "on_disconnect": "continue",
    }


@pytest.mark.parametrize("schema_class", ONE_PASS, ids=lambda cls: cls.__name__)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_loads_as_marshmallow_does_or_leaves_it_to_marshmallow(schema_class, data):
    schema = schema_class()
    body = data.draw(_bodies(schema))
    one_pass = schema.load_as_sent(body)
    try:
        loaded = schema.load(body)
    except ma.ValidationError:
        assert one_pass is None
        return
    if one_pass is not None:
        assert one_pass == loaded
        assert list(one_pass) == list(loaded)


def test_a_bad_value_is_left_to_marshmallow_which_names_it():
    schema = messages.MessageCreateSchema()
    assert schema.load_as_sent({"role": "nobody", "content": "x"}) is None
    with pytest.raises(ma.ValidationError) as refused:
        schema.load({"role": "nobody", "content": "x"})
    assert "role" in refused.value.messages


QUERY_ONE_PASS = sorted(
    (cls for cls in _subclasses(StrictSchema) if _one_pass_plan(cls(), _query_field) is not None), key=str
)
APP = flask.Flask(__name__)
_argument = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.integers(1, 100).map(str),
    st.sampled_from(["", " 7", "+3", "5_0", "1e3", "2.0", "0x10", "٣", "superseded", "user", "nobody", "-1", "0"]),
    st.text(max_size=12),
)


def _query_strings(schema: StrictSchema):
    names = st.sampled_from([*schema.load_fields, "unknown"])
    # Mostly each of the schema's own arguments once (what clients send), else anything, repeated or unknown.
    once = st.dictionaries(st.sampled_from(list(schema.load_fields)), _argument, max_size=4)
    return once.map(lambda args: list(args.items())) | st.lists(st.tuples(names, _argument), max_size=5)


def test_the_query_one_pass_covers_the_history_page_and_the_listings():
    names = {cls.__name__ for cls in QUERY_ONE_PASS}
    assert {"HistoryArgsSchema", "SessionListArgsSchema", "SearchArgsSchema", "ContextArgsSchema"} <= names
    args = MultiDict([("limit", "20"), ("before", "7")])
    assert messages.HistoryArgsSchema().load_query_as_sent(args) == {"limit": 20, "before": 7}


@pytest.mark.parametrize("schema_class", QUERY_ONE_PASS, ids=lambda cls: cls.__name__)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_a_query_loads_as_webargs_and_marshmallow_load_it_or_is_left_to_them(schema_class, data):
    schema, pairs = schema_class(), data.draw(_query_strings(schema_class()))
    with APP.test_request_context("/", query_string=pairs):
        one_pass = schema.load_query_as_sent(flask.request.args)
        try:
            loaded = FlaskParser.parse(Blueprint.ARGUMENTS_PARSER, schema, location="query")
        except HTTPException:
            assert one_pass is None
            return
    if one_pass is not None:
        assert one_pass == loaded
        assert list(one_pass) == list(loaded)
