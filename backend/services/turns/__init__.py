"""One conversation turn: the agent call, its stream, its lease and its idempotency guard."""
