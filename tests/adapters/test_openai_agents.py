"""The OpenAI Agents SDK adapter with the real openai-agents package: Runner.run over several turns, one session."""

import asyncio

from agents import Agent, RunConfig, Runner
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from backend.adapters.openai_agents import StoreSession
from backend.services.async_session import AsyncSessionService


class StubModel(Model):
    """A Model on the SDK's own interface: answers "reply N" and keeps every input it was given."""

    def __init__(self):
        self.inputs = []

    async def get_response(
        self,
        system_instructions,
        input,
        model_settings,
        tools,
        output_schema,
        handoffs,
        tracing,
        *,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
        **kwargs,
    ):
        self.inputs.append(list(input) if isinstance(input, list) else input)
        text = f"reply {len(self.inputs)}"
        message = ResponseOutputMessage(
            id=f"msg_{len(self.inputs)}",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError("the test runs without streaming")


def _texts(items):
    texts = []
    for item in items:
        content = item["content"]
        texts.append(content if isinstance(content, str) else content[0]["text"])
    return texts


def test_runner_run_over_three_turns_with_one_session_reads_back_what_it_stored(database_url):
    service = AsyncSessionService(database_url)
    model = StubModel()
    agent = Agent(name="assistant", instructions="Be brief.", model=model)
    session = StoreSession("oa-1", service)

    async def talk():
        results = []
        for question in ("first?", "second?", "third?"):
            results.append(
                await Runner.run(agent, question, session=session, run_config=RunConfig(tracing_disabled=True))
            )
        return results, await session.get_items()

    results, items = asyncio.run(talk())
    assert [r.final_output for r in results] == ["reply 1", "reply 2", "reply 3"]
    assert _texts(items) == ["first?", "reply 1", "second?", "reply 2", "third?", "reply 3"]
    # Turn three saw the first two turns, read back from the store.
    assert _texts(model.inputs[2]) == ["first?", "reply 1", "second?", "reply 2", "third?"]
    assert items[1]["type"] == "message" and items[1]["role"] == "assistant" and items[1]["id"] == "msg_1"
    # Other clients read the text itself.
    stored = service.sync.get_chat_history("oa-1")
    assert [(m.role, m.content) for m in stored][:2] == [("user", "first?"), ("assistant", "reply 1")]
    assert service.sync.get_session("oa-1").message_count == 6
    service.close()


def test_items_round_trip_and_pop_and_clear_keep_the_count(service):
    session = StoreSession("oa-2", service)
    items = [
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "4 degrees"},
        {"role": "developer", "content": [{"type": "input_text", "text": "answer in Celsius"}]},
    ]

    async def scenario():
        await session.add_items(items)
        everything, last_two = await session.get_items(), await session.get_items(limit=2)
        popped = await session.pop_item()
        after_pop = await session.get_items()
        await session.clear_session()
        return everything, last_two, popped, after_pop, await session.get_items(), await session.pop_item()

    everything, last_two, popped, after_pop, cleared, nothing = asyncio.run(scenario())
    assert everything == items
    assert last_two == items[2:]
    assert popped == items[3] and after_pop == items[:3]
    assert [m.role for m in service.get_chat_history("oa-2")] == []
    assert cleared == [] and nothing is None
    assert service.get_session("oa-2").message_count == 0


def test_an_unknown_session_has_no_items_and_nothing_to_pop(service):
    session = StoreSession("oa-new", service)
    assert asyncio.run(session.get_items()) == []
    assert asyncio.run(session.pop_item()) is None


def test_add_items_is_all_or_none_and_concurrent_calls_never_interleave(database_url):
    service = AsyncSessionService(database_url)
    session = StoreSession("oa-batch", service)
    too_long = {"role": "assistant", "content": "x" * 100_001}
    try:
        asyncio.run(session.add_items([{"role": "user", "content": "a"}, too_long, {"role": "user", "content": "b"}]))
    except Exception as error:  # noqa: BLE001 - the service's InvalidInput, whatever the SDK wraps
        assert "content" in str(error)
    else:
        raise AssertionError("an item over MAX_CONTENT_CHARS was accepted")
    assert asyncio.run(session.get_items()) == []  # none of the three, not the first alone

    async def twenty_batches():
        await asyncio.gather(
            *(session.add_items([{"role": "user", "content": f"{b}:{i}"} for i in range(5)]) for b in range(20))
        )

    asyncio.run(twenty_batches())
    stored = [item["content"].split(":") for item in asyncio.run(session.get_items())]
    runs = [stored[i : i + 5] for i in range(0, len(stored), 5)]
    assert len(stored) == 100 and all(len({batch for batch, _ in run}) == 1 for run in runs)
    assert all([i for _, i in run] == ["0", "1", "2", "3", "4"] for run in runs)
    service.close()


def test_runner_run_with_function_calls_over_two_turns_stores_what_sqlite_session_stores(service, tmp_path):
    from agents import SQLiteSession, function_tool
    from agents.testing import ScriptedModel, assistant_message, function_call

    @function_tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"4 degrees in {city}"

    def script():
        return ScriptedModel(
            [
                [function_call("weather", {"city": "Oslo"}, call_id="c1")],
                [assistant_message("It is 4 degrees in Oslo.")],
                [function_call("weather", {"city": "Bergen"}, call_id="c2")],
                [assistant_message("And 4 in Bergen.")],
            ]
        )

    async def two_turns(session):
        agent = Agent(name="weather", instructions="Use the tool.", tools=[weather], model=script())
        await Runner.run(agent, "Weather in Oslo?", session=session)
        await Runner.run(agent, "And Bergen?", session=session)
        return await session.get_items()

    theirs = asyncio.run(two_turns(SQLiteSession("same-run", str(tmp_path / "sdk.db"))))
    ours = asyncio.run(two_turns(StoreSession("same-run", service)))
    assert ours == theirs and len(ours) == 8  # 2 x (user, call, output, reply)
    assert [m.role for m in service.get_chat_history("same-run")] == ["user", "assistant", "tool", "assistant"] * 2
