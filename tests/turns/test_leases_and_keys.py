"""One turn at a time per session, and turns exactly once per key, through TurnLeases and ChatService on both
databases."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from backend.services.agents import AgentFailed
from backend.services.errors import IdempotencyKeyReused, RequestInFlight, SessionNotFound, TurnInProgress
from backend.services.session import SessionService
from backend.services.turns.lease import TurnLeases
from backend.services.turns.service import ChatService
from backend.store.engines import create_engine
from backend.store.unit_of_work import UnitOfWork
from tests.databases import driver_statements


class Leases(TurnLeases):
    """TurnLeases taking a lease in a transaction of its own, as a turn's first write does."""

    def __init__(self, engine, *, lease_s: float):
        super().__init__(UnitOfWork(engine), lease_s=lease_s)

    def acquire(self, session_id: str):
        with self.uow.write() as store:
            return self.take(store, session_id)


def test_a_held_lease_refuses_a_second_turn_with_a_time_to_retry(engine):
    leases = Leases(engine, lease_s=30)
    leases.acquire("s1")
    with pytest.raises(TurnInProgress) as raised:
        leases.acquire("s1")
    assert 1 <= raised.value.retry_after_s <= 5
    leases.acquire("s2")  # other sessions are not blocked


def test_a_released_lease_lets_the_next_turn_begin_at_once(engine):
    leases = Leases(engine, lease_s=30)
    leases.release(leases.acquire("s1"))
    leases.acquire("s1")


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_release_the_new_one(engine):
    leases = Leases(engine, lease_s=0.2)
    dead = leases.acquire("s1")  # its worker was killed: never released
    time.sleep(0.3)
    leases.lease_s = 30
    leases.acquire("s1")
    leases.release(dead)
    with pytest.raises(TurnInProgress):
        leases.acquire("s1")


def test_of_20_threads_beginning_a_turn_at_once_exactly_one_holds_the_lease(engine):
    leases = Leases(engine, lease_s=30)
    start = threading.Barrier(20)

    def begin(_):
        start.wait()
        try:
            leases.acquire("s1")
            return "held"
        except TurnInProgress:
            return "refused"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(begin, range(20)))
    assert sorted(outcomes) == ["held"] + ["refused"] * 19


class SlowAgent:
    """Answers after `delay_s`; counts its calls; fails the first `failures` calls."""

    def __init__(self, delay_s: float = 0.0, failures: int = 0):
        self.delay_s = delay_s
        self.failures = failures
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.calls += 1
            call = self.calls
        time.sleep(self.delay_s)
        if call <= self.failures:
            raise RuntimeError("the model is overloaded")
        return f"reply to {request.message.content}"


def contents(service, sid="s1"):
    return [(m.role, m.content) for m in service.get_chat_history(sid)]


def test_two_turns_at_once_on_one_session_one_is_refused(service):
    service.get_or_create_session("s1")
    chat = ChatService(service, SlowAgent(delay_s=0.5), timeout_s=5)
    start = threading.Barrier(2)

    def turn(text):
        start.wait()
        try:
            return chat.chat("s1", text).reply.content
        except TurnInProgress:
            return "409"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(turn, ["one", "two"]))
    assert outcomes.count("409") == 1
    assert len(contents(service)) == 2 and service.get_session("s1").message_count == 2


def test_a_retry_storm_of_20_turns_with_one_key_asks_the_agent_once(service):
    service.get_or_create_session("s1")
    agent = SlowAgent(delay_s=0.3)
    chat = ChatService(service, agent, timeout_s=5)
    start = threading.Barrier(20)

    def turn(i):
        start.wait()
        time.sleep(0.03 * i)  # spread over the first turn's life (0.3 s), and after it
        try:
            return chat.chat("s1", "hello", idempotency_key="storm")
        except (RequestInFlight, TurnInProgress):
            return "409"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(turn, range(20)))
    exchanges = [o for o in outcomes if o != "409"]
    assert agent.calls == 1 and exchanges
    assert all(e == exchanges[0] for e in exchanges)
    assert contents(service) == [("user", "hello"), ("assistant", "reply to hello")]
    assert service.get_session("s1").message_count == 2
    # Once it is finished, every repeat is its stored outcome.
    assert chat.chat("s1", "hello", idempotency_key="storm") == exchanges[0]


def test_a_turn_retried_after_the_agent_failed_reuses_the_stored_user_message(service):
    service.get_or_create_session("s1")
    agent = SlowAgent(failures=1)
    chat = ChatService(service, agent, timeout_s=5)
    with pytest.raises(AgentFailed):
        chat.chat("s1", "hello", idempotency_key="k")
    exchange = chat.chat("s1", "hello", idempotency_key="k")
    assert agent.calls == 2
    assert contents(service) == [("user", "hello"), ("assistant", "reply to hello")]
    assert exchange.message.id == service.get_chat_history("s1")[0].id
    assert service.get_session("s1").message_count == 2


def test_a_turn_key_reused_for_another_message_is_refused(service):
    service.get_or_create_session("s1")
    chat = ChatService(service, SlowAgent(), timeout_s=5)
    chat.chat("s1", "hello", idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        chat.chat("s1", "something else", idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        chat.voice("s1", "hello", idempotency_key="k")  # a voice turn is another request
    assert len(contents(service)) == 2


def test_a_turn_releases_its_lease_when_it_fails(service):
    service.get_or_create_session("s1")
    chat = ChatService(service, SlowAgent(failures=1), timeout_s=5)
    with pytest.raises(AgentFailed):
        chat.chat("s1", "one")
    assert chat.chat("s1", "two").reply.content == "reply to two"


def test_a_plain_append_is_not_blocked_by_a_turn(service):
    service.get_or_create_session("s1")
    appended = []

    def agent(request):
        appended.append(service.add_message("s1", "system", "meanwhile").id)
        return "ok"

    ChatService(service, agent, timeout_s=5).chat("s1", "hi")
    assert appended and [c for _, c in contents(service)] == ["hi", "meanwhile", "ok"]


def test_a_turn_that_outlived_its_lease_cannot_store_its_reply_into_the_next_turn(service):
    from backend.services.errors import ReservationLost

    service.get_or_create_session("s1")
    calls = []

    def agent(request):
        calls.append(request.message.content)
        if request.message.content == "first":
            time.sleep(0.3)  # past its 0.2 s lease: the next turn takes the session over meanwhile
            assert chat.chat("s1", "second").reply.content == "reply to second"
        return f"reply to {request.message.content}"

    chat = ChatService(service, agent, timeout_s=5)
    chat.guard.leases.lease_s = 0.2
    with pytest.raises(ReservationLost):
        chat.chat("s1", "first")
    assert contents(service) == [("user", "first"), ("user", "second"), ("assistant", "reply to second")]
    assert service.get_session("s1").message_count == 3


def test_another_owners_session_is_missing_even_while_a_turn_runs_there(service):
    mine = service.get_or_create_session(owner="alice").session_id
    asked, answer = threading.Event(), threading.Event()

    def held_agent(request):
        asked.set()  # the turn's first write has committed: its lease is held
        answer.wait(10)
        return f"reply to {request.message.content}"

    chat = ChatService(service, held_agent, timeout_s=15)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(chat.chat, mine, "one", owner="alice")
        assert asked.wait(10)
        with pytest.raises(TurnInProgress):
            chat.chat(mine, "two", owner="alice")
        with pytest.raises(SessionNotFound):  # a 404 for bob: never a 409 telling that a turn runs there
            chat.chat(mine, "from bob", owner="bob")
        answer.set()
        assert running.result().reply.content == "reply to one"
    assert contents(service, mine) == [("user", "one"), ("assistant", "reply to one")]
    assert service.get_session(mine).message_count == 2
    assert chat.chat(mine, "three", owner="alice").reply.content == "reply to three"  # the lease was given back


def test_a_turn_is_eight_statements_on_postgresql(postgres_schema):
    """Each a round trip its greenlet waits a turn of the worker's loop for: the lease, the turns the lease finds
    running, the count with the user's message and the session as it now is (one statement), the turn's row and
    the history; then the lease back, the reply with its count, and the turn's end with its events (one)."""
    postgres_schema.empty()
    engine = create_engine(postgres_schema.url)
    service = SessionService(engine)
    sid = service.get_or_create_session().session_id
    service.add_message(sid, "user", "earlier")
    chat = ChatService(service, SlowAgent(), timeout_s=5)
    with driver_statements(engine) as statements:
        exchange = chat.chat(sid, "hello")
    assert len(statements) == 8, statements
    assert sum(s.startswith("WITH bump AS") and "RETURNING sessions.session_id," in s for s in statements) == 1
    assert sum(s.startswith("WITH ended AS") and "INSERT INTO turn_events" in s for s in statements) == 1
    assert exchange.reply.content == "reply to hello"
    assert exchange.message.content == "hello" and exchange.message.id < exchange.reply.id
    assert [m.content for m in service.get_chat_history(sid)] == ["earlier", "hello", "reply to hello"]
    assert service.get_session(sid).message_count == 3
    engine.dispose()


def test_a_turn_is_two_write_transactions_on_sqlite(sqlite_template, tmp_path):
    """The lease, the user's message, the session and the history in one; the reply and the lease's end in the other."""
    url = sqlite_template.copy_to(tmp_path / "turns.db")
    engine = create_engine(url)
    statements: list[str] = []
    sa.event.listen(engine, "connect", lambda connection, _: connection.set_trace_callback(statements.append))
    service = SessionService(engine)
    sid = service.get_or_create_session().session_id
    service.add_message(sid, "user", "earlier")
    chat = ChatService(service, SlowAgent(), timeout_s=5)
    statements.clear()
    exchange = chat.chat(sid, "hello")
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE"], statements
    assert sum(s == "COMMIT" for s in statements) == 2
    assert exchange.reply.content == "reply to hello"
    assert [m.content for m in service.get_chat_history(sid)] == ["earlier", "hello", "reply to hello"]
    assert service.get_session(sid).message_count == 3
    engine.dispose()
