"""A body of fields taken as sent is loaded in one pass (StrictSchema.load_as_sent): the same dict as marshmallow's
load, and None (marshmallow then names the problem) whenever marshmallow would refuse it."""

from __future__ import annotations

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.schemas import chat, headers, messages, owners, search, sessions, turns  # noqa: F401 - every subclass
from backend.schemas.base import StrictSchema, _one_pass_plan


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
