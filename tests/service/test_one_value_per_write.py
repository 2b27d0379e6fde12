"""One value per write: a NewMessage travels whole from the schema through the service into the store and
into the idempotency hash, so a field added to it cannot be forgotten on the way."""

from __future__ import annotations

import dataclasses

import pytest

from backend.schemas.messages import MessageCreateSchema, MessageItemSchema
from backend.services.errors import IdempotencyKeyReused
from backend.services.idempotency import request_hash
from backend.store.records import MessageRecord, NewMessage
from backend.store.sql import messages

VALUE = NewMessage("s1", "user", "hello", {"client": "web"})
OTHER_VALUES = {"session_id": "s2", "role": "assistant", "content": "hello!", "metadata": {"client": "ios"}}


def test_other_values_cover_every_field_of_a_new_message():
    # A field added to NewMessage fails here until the test says what another value of it is.
    assert set(OTHER_VALUES) == {f.name for f in dataclasses.fields(NewMessage)}


@pytest.mark.parametrize("field", list(OTHER_VALUES))
def test_changing_any_field_of_a_new_message_changes_its_request_hash(field):
    changed = dataclasses.replace(VALUE, **{field: OTHER_VALUES[field]})
    assert request_hash("add", new=changed) != request_hash("add", new=VALUE)
    assert request_hash("add", new=dataclasses.replace(changed)) == request_hash("add", new=changed)


def test_every_field_of_a_new_message_has_its_column_and_comes_back_in_the_record():
    columns = {column.key for column in messages.c}
    fields = {f.name for f in dataclasses.fields(NewMessage)}
    assert fields <= columns and fields <= {f.name for f in dataclasses.fields(MessageRecord)}


def test_the_append_schema_loads_every_field_but_the_session_id_which_comes_from_the_path():
    one_message = {f.name for f in dataclasses.fields(NewMessage)} - {"session_id"}
    assert set(MessageItemSchema().fields) == one_message  # each item of a batch
    assert set(MessageCreateSchema().fields) == one_message | {"messages"}  # one message, or a batch of items


@pytest.mark.parametrize("field", ["role", "content", "metadata"])
def test_a_retry_with_the_same_key_and_any_field_changed_is_refused_not_replayed(service, field):
    service.get_or_create_session("s1")
    first = service.append(VALUE, idempotency_key="k1")
    assert service.append(VALUE, idempotency_key="k1") == first
    with pytest.raises(IdempotencyKeyReused):
        service.append(dataclasses.replace(VALUE, **{field: OTHER_VALUES[field]}), idempotency_key="k1")
    assert [m.id for m in service.get_chat_history("s1")] == [first.id]


def test_the_stored_message_holds_every_field_of_the_value(service):
    service.get_or_create_session("s1")
    stored = service.append(VALUE)
    assert stored == service.get_chat_history("s1")[-1]
    for f in dataclasses.fields(NewMessage):
        assert getattr(stored, f.name) == getattr(VALUE, f.name)
