"""The OpenAI Agents SDK's compaction (OpenAIResponsesCompactionSession) over StoreSession, with the SDK's real
OpenAI client against the Responses API on a loopback port: the compacted items become the session's items, and the
items they replace stay stored as superseded, in one transaction; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from agents import Agent, RunConfig, Runner
from agents.memory import OpenAIResponsesCompactionSession
from agents.models.openai_responses import OpenAIResponsesModel

from backend.adapters.openai_agents import StoreSession
from backend.services.async_session import AsyncSessionService
from tests.adapters.openai_loopback import OpenAILoopback, compaction_item

RUN = RunConfig(tracing_disabled=True)
REPLY = {"type": "message", "role": "assistant", "status": "completed"}


@pytest.fixture
def api():
    loopback = OpenAILoopback()
    yield loopback
    loopback.close()


@pytest.fixture
def service(database_url):
    """The async service StoreSession takes (this module's `service`)."""
    service = AsyncSessionService(database_url)
    yield service
    service.close()


def compacting(session_id, service, api, trigger=lambda context: False):
    """A compaction session over a StoreSession, and an agent whose model is the loopback's."""
    session = OpenAIResponsesCompactionSession(
        session_id,
        StoreSession(session_id, service),
        client=api.client,
        compaction_mode="input",
        should_trigger_compaction=trigger,
    )
    return session, Agent(name="assistant", model=OpenAIResponsesModel(model="gpt-4.1", openai_client=api.client))


def once_at_four_items(api):
    """Compact once, when the history holds two turns."""
    return lambda context: not api.compactions and len(context["session_items"]) >= 4


def user(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def reply(n):
    return {"id": f"msg_{n}", **REPLY, "content": [{"annotations": [], "type": "output_text", "text": f"reply {n}"}]}


def stored(service, session_id):
    """(content, superseded) of every stored message, oldest first."""
    page = service.sync.get_history_page(session_id, include_superseded=True)
    return [(message.content, message.id in page.superseded) for message in page.messages]


TWO_TURNS = [("first?", True), ("reply 1", True), ("second?", True), ("reply 2", True)]
COMPACTED = [user("first?"), user("second?"), compaction_item(1, 4)]


def test_compaction_after_the_second_turn_leaves_the_compacted_items_and_keeps_the_replaced_ones(service, api):
    session, agent = compacting("cmp-1", service, api, once_at_four_items(api))

    async def three_turns():
        seen = []
        for question in ("first?", "second?", "third?"):
            await Runner.run(agent, question, session=session, run_config=RUN)
            seen.append((len(api.compactions), await session.get_items()))
        return seen

    (first, after_first), (second, after_second), (_, after_third) = asyncio.run(three_turns())
    assert (first, after_first) == (0, [{"role": "user", "content": "first?"}, reply(1)])
    # The second turn's exchange went to the compact endpoint whole; its answer is the session now.
    assert second == 1 and api.compactions[0]["input"] == [
        *after_first,
        {"role": "user", "content": "second?"},
        reply(2),
    ]
    assert after_second == COMPACTED
    # The replaced items stay stored, superseded; a REST client reads the compaction item as a marker.
    live = [("first?", False), ("second?", False), ("[compaction]", False)]
    assert stored(service, "cmp-1") == [*TWO_TURNS, *live, ("third?", False), ("reply 3", False)]
    compaction = service.sync.get_chat_history("cmp-1")[2]
    assert (compaction.role, compaction.metadata["kind"]) == ("assistant", "compaction")
    # The third turn's model read the compacted history, read back from the store.
    assert api.responses[2]["input"] == [*COMPACTED, {"role": "user", "content": "third?"}]
    assert after_third == [*COMPACTED, {"role": "user", "content": "third?"}, reply(3)]
    assert service.sync.get_session("cmp-1").message_count == 5
    window = service.sync.get_context("cmp-1", max_tokens=10_000)
    assert [m.content for m in window.messages] == ["first?", "second?", "[compaction]", "third?", "reply 3"]


def test_a_manual_compaction_replaces_the_whole_history_without_deleting_it(service, api):
    session, agent = compacting("cmp-2", service, api)

    async def two_turns_then_compact():
        for question in ("first?", "second?"):
            await Runner.run(agent, question, session=session, run_config=RUN)
        await session.run_compaction({"force": True})
        return await session.get_items()

    assert asyncio.run(two_turns_then_compact()) == COMPACTED
    assert stored(service, "cmp-2") == [*TWO_TURNS, ("first?", False), ("second?", False), ("[compaction]", False)]
    assert service.sync.get_session("cmp-2").message_count == 3


def test_a_replacement_that_fails_in_the_database_changes_nothing(service, api, database_url):
    session, agent = compacting("cmp-3", service, api, once_at_four_items(api))
    engine = sa.create_engine(database_url)
    with engine.begin() as db:
        for statement in REJECT_COMPACTION[engine.dialect.name]:
            db.exec_driver_sql(statement)

    async def two_turns():
        await Runner.run(agent, "first?", session=session, run_config=RUN)
        with pytest.raises(Exception, match="synthetic insert failure"):
            await Runner.run(agent, "second?", session=session, run_config=RUN)
        return await session.get_items()

    try:
        items = asyncio.run(two_turns())
    finally:
        with engine.begin() as db:
            db.exec_driver_sql(
                "DROP TRIGGER reject_compaction" + (" ON chat_history" if db.dialect.name != "sqlite" else "")
            )
        engine.dispose()
    assert len(api.compactions) == 1
    # Nothing superseded, nothing added: the rewind and the batch were one transaction.
    assert items == [{"role": "user", "content": "first?"}, reply(1), {"role": "user", "content": "second?"}, reply(2)]
    assert stored(service, "cmp-3") == [(content, False) for content, _ in TWO_TURNS]
    assert service.sync.get_session("cmp-3").message_count == 4


REJECT_COMPACTION = {
    "sqlite": [
        "CREATE TRIGGER reject_compaction BEFORE INSERT ON chat_history WHEN NEW.content = '[compaction]' "
        "BEGIN SELECT RAISE(ABORT, 'synthetic insert failure'); END"
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION reject_compaction() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.content = '[compaction]' THEN RAISE EXCEPTION 'synthetic insert failure'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER reject_compaction BEFORE INSERT ON chat_history FOR EACH ROW "
        "EXECUTE FUNCTION reject_compaction()",
    ],
}


def test_a_cancelled_run_waits_for_its_replacement_and_a_newer_append_lands_after_it(service, api, database_url):
    session, agent = compacting("cmp-4", service, api, once_at_four_items(api))
    # The lock is taken in the loopback's thread and let go in the test's.
    engine = sa.create_engine(database_url, **SHARED_CONNECTION.get(sa.make_url(database_url).get_backend_name(), {}))
    blocker = engine.connect()
    locked = threading.Event()

    def lock_the_session_before_answering():
        # The replacement that follows this answer waits for the session's write lock until the test lets go.
        if engine.dialect.name == "sqlite":
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.exec_driver_sql("SELECT 1 FROM sessions WHERE session_id = 'cmp-4' FOR UPDATE")
        locked.set()

    newer = {"role": "user", "content": "newer"}

    async def scenario():
        await Runner.run(agent, "first?", session=session, run_config=RUN)
        api.before_compaction_answer = lock_the_session_before_answering
        work = asyncio.create_task(Runner.run(agent, "second?", session=session, run_config=RUN))
        await asyncio.to_thread(locked.wait, 10)
        await asyncio.to_thread(wait_until_a_thread_runs, "replace_history")
        work.cancel()
        append = asyncio.create_task(session.add_items([newer]))
        await asyncio.sleep(0.2)
        still_waiting = not work.done() and not append.done()
        blocker.rollback()
        outcomes = await asyncio.gather(work, append, return_exceptions=True)
        return still_waiting, outcomes, await session.get_items()

    try:
        still_waiting, (run, appended), items = asyncio.run(scenario())
    finally:
        blocker.close()
        engine.dispose()
    assert still_waiting and isinstance(run, asyncio.CancelledError) and appended is None
    assert items == [*COMPACTED, newer]
    live = [("first?", False), ("second?", False), ("[compaction]", False), ("newer", False)]
    assert stored(service, "cmp-4") == [*TWO_TURNS, *live]


SHARED_CONNECTION = {"sqlite": {"connect_args": {"check_same_thread": False}}}


def wait_until_a_thread_runs(function: str, timeout_s: float = 10.0) -> None:
    """Return once some thread's stack is inside a function of this name (the service's worker, in its
    transaction); AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in sys._current_frames().values():
            while frame is not None:
                if frame.f_code.co_name == function:
                    return
                frame = frame.f_back
        time.sleep(0.01)
    raise AssertionError(f"no thread entered {function} within {timeout_s} s")


def test_a_subclass_that_changes_how_items_are_stored_does_not_inherit_the_hooks(service):
    class Redacting(StoreSession):
        async def add_items(self, items):
            await super().add_items([{**item, "content": "[redacted]"} for item in items])

    class Named(StoreSession):
        """Changes nothing about items: keeps the hooks."""

    async def hooks(session):
        await session.add_items([{"role": "user", "content": "secret"}])
        snapshot = await session._get_compaction_snapshot(5)
        return snapshot, await session._atomic_replace_items([{"role": "user", "content": "plain"}])

    assert asyncio.run(hooks(Redacting("cmp-5", service))) == (None, False)
    snapshot, replaced = asyncio.run(hooks(Named("cmp-6", service)))
    assert (snapshot.items, snapshot.complete, replaced) == ([{"role": "user", "content": "secret"}], True, True)
    assert stored(service, "cmp-5") == [("[redacted]", False)]
    assert stored(service, "cmp-6") == [("secret", True), ("plain", False)]
