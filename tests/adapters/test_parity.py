"""The adapters at parity with the frameworks' own stores: no thread leak, every LangChain message class, an
unreadable row skipped (never failing the read, never deleted by a pop), session_settings as the SDK treats it."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time

import pytest
from agents.memory.session_settings import SessionSettings
from langchain_core.messages import AIMessage, AIMessageChunk, ChatMessage, FunctionMessage, HumanMessage

from backend.adapters import history
from backend.adapters.langchain import SessionChatMessageHistory
from backend.adapters.openai_agents import StoreSession
from backend.services.errors import InvalidInput
from backend.services.session import SessionService


def test_short_lived_sessions_leave_no_threads_behind(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(history, "_default", {})
    gc.collect()
    before = threading.active_count()
    for i in range(100):
        asyncio.run(StoreSession(f"oa-{i}").get_items())  # no service given: the process's default one
        asyncio.run(StoreSession(f"own-{i}", SessionService(database_url)).get_items())  # a service each
    gc.collect()
    deadline = time.monotonic() + 5  # a collected pool's idle threads exit on their own, soon after
    while threading.active_count() > before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before + 2  # the default service's two worker threads at most


def test_every_langchain_message_class_keeps_its_role_and_reads_back_as_its_full_class(service):
    history_ = SessionChatMessageHistory("lc-classes", service)
    history_.add_messages(
        [
            HumanMessage("hi"),
            AIMessageChunk(content="streamed reply", id="run-1"),
            FunctionMessage(name="lookup", content="42"),
            ChatMessage(role="critic", content="too long"),
            ChatMessage(role="assistant", content="from a chat message"),
        ]
    )
    stored = [(m.role, m.content) for m in service.get_chat_history("lc-classes")]
    assert stored == [
        ("user", "hi"),
        ("assistant", "streamed reply"),
        ("tool", "42"),
        ("user", "too long"),
        ("assistant", "from a chat message"),
    ]
    read = history_.messages
    assert [type(m).__name__ for m in read] == [
        "HumanMessage",
        "AIMessage",
        "FunctionMessage",
        "ChatMessage",
        "ChatMessage",
    ]
    assert read[1] == AIMessage(content="streamed reply", id="run-1")
    assert (read[2].name, read[3].role) == ("lookup", "critic")


def test_an_unreadable_row_is_skipped_with_a_warning_naming_it_and_limits_count_readable_ones(service, caplog):
    history_ = SessionChatMessageHistory("lc-bad", service, limit=2)
    history_.add_messages([HumanMessage("one"), AIMessage("two")])
    bad = service.add_message("lc-bad", "assistant", "x", {"langchain": {"type": "no-such-type"}})
    history_.add_messages([HumanMessage("three")])
    with caplog.at_level(logging.WARNING, logger="backend.adapters.history"):
        assert [m.content for m in history_.messages] == ["two", "three"]
    assert f"skipping stored message {bad.id} of session lc-bad" in caplog.text


def test_a_pop_never_deletes_a_row_it_cannot_return(service, caplog):
    session = StoreSession("oa-bad", service)
    asyncio.run(session.add_items([{"role": "user", "content": "kept"}]))
    bad = service.add_message("oa-bad", "assistant", "{not json", {"openai_agents": {"text_in": None}})
    with caplog.at_level(logging.WARNING, logger="backend.adapters.history"):
        assert asyncio.run(session.get_items()) == [{"role": "user", "content": "kept"}]
        assert asyncio.run(session.pop_item()) is None
    assert service.get_chat_history("oa-bad")[-1] == bad and service.get_session("oa-bad").message_count == 2
    assert f"skipping stored message {bad.id}" in caplog.text


def test_session_settings_as_the_sdks_own_sessions_treat_them(service):
    assert StoreSession("oa-s", service).session_settings == SessionSettings()
    limited = StoreSession("oa-s", service, session_settings={"limit": 2})
    assert limited.session_settings == SessionSettings(limit=2)
    items = [{"role": "user", "content": f"m{i}"} for i in range(4)]
    asyncio.run(limited.add_items(items))
    assert asyncio.run(limited.get_items()) == items[2:]
    assert asyncio.run(limited.get_items(limit=-1)) == items  # negative: all, as SQLiteSession
    assert asyncio.run(limited.get_items(limit=0)) == []


def test_a_cancelled_write_has_landed_or_failed_before_the_cancellation_reaches_the_caller(service):
    session = StoreSession("oa-cancel", service)
    items = [{"role": "user", "content": f"m{i}"} for i in range(100)]

    async def scenario():
        task = asyncio.create_task(session.add_items(items))
        await asyncio.sleep(0)  # the write is on its way in a worker thread
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the cancellation was lost")
        at_cancellation = len(history.last_messages(service, "oa-cancel", None))  # [] while there is no session
        await asyncio.sleep(0.3)
        return at_cancellation, len(history.last_messages(service, "oa-cancel", None))

    assert asyncio.run(scenario()) == (100, 100)  # all of it, already: nothing lands after the caller moved on


def test_a_reasoning_item_is_told_apart_from_what_the_assistant_said_and_reads_back_whole(service):
    session = StoreSession("oa-reasoning", service)
    reasoning = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "The user wants the weather; call the tool."}],
    }
    asyncio.run(session.add_items([{"role": "user", "content": "weather?"}, reasoning]))
    stored = service.get_chat_history("oa-reasoning")[-1]
    assert (stored.role, stored.content, stored.metadata["kind"]) == ("assistant", "[reasoning]", "reasoning")
    assert "call the tool" not in stored.content
    assert asyncio.run(session.get_items())[-1] == reasoning


def test_the_adapters_accept_tool_outputs_the_frameworks_accept_while_rest_keeps_its_limit(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(history, "_default", {})
    output = {"type": "function_call_output", "call_id": "c1", "output": "retrieved " * 20_000}  # 180,000 chars
    session = StoreSession("oa-big")  # the process's default service: the agents' limits
    asyncio.run(session.add_items([output]))
    assert asyncio.run(session.get_items()) == [output]
    server_side = SessionService(database_url)  # the server's limits (MAX_CONTENT_CHARS), as REST clients get
    with pytest.raises(InvalidInput) as refused:
        server_side.save_message("oa-big", "tool", output["output"])
    assert refused.value.errors == {"content": ["must be at most 100000 characters"]}


def test_a_window_never_starts_on_a_tool_message_whose_call_it_left_out(service):
    from langchain_core.messages import ToolMessage

    exchange = [
        HumanMessage("weather?"),
        AIMessage("", tool_calls=[{"name": "weather", "args": {}, "id": "c1"}]),
        ToolMessage("4 degrees", tool_call_id="c1"),
        ToolMessage("calm", tool_call_id="c1"),
        AIMessage("4 degrees and calm"),
    ]
    SessionChatMessageHistory("lc-window", service).add_messages(exchange)
    window = SessionChatMessageHistory("lc-window", service, limit=3).messages  # would start on a tool result
    assert [m.content for m in window] == ["4 degrees and calm"]
    whole = SessionChatMessageHistory("lc-window", service, limit=4).messages
    assert [type(m).__name__ for m in whole] == ["AIMessage", "ToolMessage", "ToolMessage", "AIMessage"]
