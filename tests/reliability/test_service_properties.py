"""Properties of SessionService under any sequence of calls: count == rows, history in id order, bad text refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from backend.services.errors import InvalidInput, SessionNotFound
from backend.services.session import SessionService

IDS = st.sampled_from(["a", "b", "c", "legacy:1", "x.y-z_9"])
ROLES = st.sampled_from(["user", "assistant", "system", "tool"])
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)
METADATA = st.none() | st.dictionaries(
    st.text(max_size=5).filter(lambda s: "\x00" not in s), st.integers() | st.booleans() | TEXT, max_size=3
)
RUNS = {
    "max_examples": 40,
    "stateful_step_count": 25,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
}


class SessionStoreMachine(RuleBasedStateMachine):
    """A model (dict of lists) beside the real store; every step compared."""

    service: SessionService

    def __init__(self):
        super().__init__()
        with self.service.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM chat_history")
            conn.exec_driver_sql("DELETE FROM sessions")
        self.model: dict[str, list[tuple[int, str, str]]] = {}
        self.steps = 0

    @rule(sid=IDS, metadata=METADATA)
    def open(self, sid, metadata):
        record = self.service.get_or_create_session(sid, metadata=metadata)
        self.model.setdefault(sid, [])
        assert record.message_count == len(self.model[sid])

    @rule(sid=IDS, role=ROLES, content=TEXT, metadata=METADATA)
    def append(self, sid, role, content, metadata):
        if sid not in self.model:
            with pytest.raises(SessionNotFound):
                self.service.save_message(sid, role, content, metadata)
            return
        message_id = self.service.save_message(sid, role, content, metadata)
        assert all(message_id > mid for messages in self.model.values() for mid, _, _ in messages)
        self.model[sid].append((message_id, role, content))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def clear(self, data):
        sid = data.draw(st.sampled_from(sorted(self.model)))
        self.service.clear_history(sid)
        self.model[sid] = []

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data):
        sid = data.draw(st.sampled_from(sorted(self.model)))
        self.service.delete_session(sid)
        del self.model[sid]
        with pytest.raises(SessionNotFound):
            self.service.get_session(sid)

    @rule(sid=IDS, limit=st.integers(1, 60), before=st.none() | st.integers(1, 2**70))
    def page(self, sid, limit, before):
        if sid not in self.model:
            with pytest.raises(SessionNotFound):
                self.service.get_chat_history(sid, limit=limit, before=before)
            return
        page = self.service.get_chat_history(sid, limit=limit, before=before)
        expected = [m for m in self.model[sid] if before is None or m[0] < before][-limit:]
        assert [(m.id, m.role, m.content) for m in page] == expected

    @invariant()
    def counts_equal_rows_and_history_is_in_id_order(self):
        with self.service.engine.connect() as conn:
            counts = dict(conn.exec_driver_sql("SELECT session_id, message_count FROM sessions").all())
            rows = conn.exec_driver_sql("SELECT session_id, count(*) FROM chat_history GROUP BY session_id").all()
        assert set(counts) == set(self.model)
        assert {sid: n for sid, n in rows} == {sid: len(m) for sid, m in self.model.items() if m}
        for sid, messages in self.model.items():
            assert counts[sid] == len(messages)
            history = self.service.get_chat_history(sid, limit=500)
            assert [m.id for m in history] == sorted(m.id for m in history) == [m[0] for m in messages]


def test_any_sequence_of_appends_clears_and_deletes_keeps_counts_and_order(database_url, figures):
    """Hypothesis stateful test: 40 sequences of up to 25 calls, model compared after each."""
    SessionStoreMachine.service = SessionService(database_url)
    run_state_machine_as_test(SessionStoreMachine, settings=settings(**RUNS))
    figures.update(sequences=RUNS["max_examples"], max_steps_per_sequence=RUNS["stateful_step_count"])


@pytest.mark.parametrize(
    "field, call",
    [
        ("content", lambda s: s.save_message("s", "user", "bad \udc80")),
        ("metadata", lambda s: s.save_message("s", "user", "x", {"k": "\ud800"})),
        ("metadata", lambda s: s.update_session("s", metadata={"\udfff": 1})),
        ("session_id", lambda s: s.get_or_create_session("\udc80")),
        ("session_id", lambda s: s.get_chat_history("\udc80")),
        ("device_fingerprint", lambda s: s.get_or_create_session("t", device_fingerprint="\udc80")),
    ],
)
def test_text_the_database_cannot_encode_is_refused_naming_its_field(service, field, call):
    """Lone surrogates (legal in JSON escapes, not in UTF-8) were a 500 from the driver; now InvalidInput."""
    service.get_or_create_session("s")
    with pytest.raises(InvalidInput) as refused:
        call(service)
    assert field in refused.value.errors
    assert service.get_session("s").message_count == 0
    with service.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sessions")).scalar() == 1


def test_a_limit_past_the_page_maximum_is_refused_however_large(service):
    service.get_or_create_session("s")
    for limit in (501, 2**64):
        with pytest.raises(InvalidInput) as refused:
            service.get_chat_history("s", limit=limit)
        assert refused.value.errors == {"limit": ["must be at most 500"]}


@pytest.mark.parametrize("before, limit", [(2**63, 10), (2**70, 10), (5, 500)])
def test_history_bounds_past_64_bits_read_like_no_bound(service, before, limit):
    """A before or limit the driver cannot bind (OverflowError, out of range) reads as no bound at all."""
    service.get_or_create_session("s")
    ids = [service.save_message("s", "user", f"m{n}") for n in range(3)]
    expected = [i for i in ids if i < before]
    assert [m.id for m in service.get_chat_history("s", limit=limit, before=before)] == expected
