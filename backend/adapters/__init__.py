"""Adapters to agent frameworks (optional extras: `pip install 'session-store[langchain]'`, `[openai-agents]`); the
server never imports them."""
