"""ChatService without Flask: the agent is asked with no database connection held."""

import pytest

from backend.services.agents import AgentFailed
from backend.services.turns.service import ChatService


def test_the_agent_runs_with_no_connection_checked_out(service):
    seen = []

    def agent(request):
        seen.append(service.engine.pool.checkedout())
        # Another writer can commit while the agent thinks: no lock is held.
        service.save_message(request.session.session_id, "system", "written meanwhile")
        return "ok"

    service.get_or_create_session("s1")
    exchange = ChatService(service, agent, timeout_s=5).chat("s1", "hi")
    assert seen == [0]
    assert [m.content for m in service.get_chat_history("s1")] == ["hi", "written meanwhile", "ok"]
    assert exchange.reply.content == "ok" and exchange.message.content == "hi"


def test_a_failed_agent_leaves_the_users_message_stored_once(service):
    def agent(request):
        raise ValueError("nope")

    service.get_or_create_session("s1")
    with pytest.raises(AgentFailed):
        ChatService(service, agent).chat("s1", "hi")
    assert [(m.role, m.content) for m in service.get_chat_history("s1")] == [("user", "hi")]
    assert service.get_session("s1").message_count == 1


def test_a_history_limit_of_zero_sends_no_history(service):
    seen = []
    service.get_or_create_session("s1")
    service.save_message("s1", "user", "old")
    ChatService(service, lambda r: seen.append(r) or "ok", history_limit=0).chat("s1", "new")
    assert seen[0].history == []
