"""One agent call run to the end, for tests of the agent machinery without a turn around it."""

from __future__ import annotations

import time

from backend.services.agents import Agent, AgentFailed, AgentReply, AgentRequest, to_reply
from backend.services.turns.agent_call import END, AgentCall, AgentGate


def call_agent(agent: Agent, request: AgentRequest, timeout_s: float, gate: AgentGate | None = None) -> AgentReply:
    """Run the agent to the end of its reply within `timeout_s`; AgentFailed when it fails, hangs or answers garbage."""
    gate = gate if gate is not None else AgentGate(1)
    deadline = time.monotonic() + timeout_s
    slot = gate.try_acquire(deadline)
    if slot is None:
        raise AgentFailed(f"all {gate.limit} agent calls are in use")
    call = AgentCall(agent, request, gate, slot, deadline, timeout_s)
    chunks = []
    while (chunk := call.next_chunk(timeout_s)) is not END:
        if chunk is not None:
            chunks.append(chunk)
    return to_reply(AgentReply("".join(chunks), call.metadata))
