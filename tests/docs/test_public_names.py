"""Every `backend...` name the README and the agents' guide give to agents in other repositories imports as written,
and those documents name no internal module."""

from __future__ import annotations

import ast
import importlib
import re

import pytest

from tests.docs.markdown import PYTHON, blocks, text_of

DOCUMENTS = ("README.md", "docs/agents.md")
DOTTED = re.compile(r"\bbackend(?:\.[A-Za-z_]\w*)+")
# What agents in other repositories rely on; a rename must show up here, not in their tracebacks.
PROMISED = {
    "backend.services.session.SessionService",
    "backend.services.async_session.AsyncSessionService",
    "backend.services.agents.AgentReply",
    "backend.services.agents.AgentRequest",
    "backend.adapters.langchain.SessionChatMessageHistory",
    "backend.adapters.openai_agents.StoreSession",
}
# Layers that may move at any time; records are named without their module (SessionRecord, MessageRecord, ...).
INTERNAL = (
    "backend.store",
    "backend.services.turns",
    "backend.web",
    "backend.api",
    "backend.models",
    "backend.schemas",
)


def documented_names() -> set[str]:
    """Each dotted `backend...` name of the documents, and each name their Python blocks import from `backend`."""
    names: set[str] = set()
    for path in DOCUMENTS:
        names.update(DOTTED.findall(text_of(path)))
        for block in blocks(path):
            if block.language in PYTHON:
                for node in ast.walk(ast.parse(block.text)):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "backend":
                        names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


NAMES = sorted(documented_names())


def resolve(name: str):
    """The module or attribute a dotted name means: the longest importable module, then attributes."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            found = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # the module exists but needs something missing
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(name)


@pytest.mark.parametrize("name", NAMES)
def test_a_documented_name_imports(name):
    assert resolve(name) is not None


def test_the_promised_names_are_documented():
    assert PROMISED <= set(NAMES), f"no longer in {DOCUMENTS}: {sorted(PROMISED - set(NAMES))}"


def test_no_internal_module_is_documented_for_agents():
    internal = [name for name in NAMES if name.startswith(INTERNAL)]
    assert not internal, f"internal paths in {DOCUMENTS}: {internal}"
