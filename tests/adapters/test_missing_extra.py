"""An adapter imported without its framework says which extra installs it, rather than a bare module name."""

from __future__ import annotations

import importlib
import sys

import pytest

from backend.adapters import needs_extra


@pytest.mark.parametrize(
    ("adapter", "package", "extra"),
    [
        ("backend.adapters.langchain", "langchain_core", "langchain"),
        ("backend.adapters.openai_agents", "agents", "openai-agents"),
    ],
)
def test_an_adapter_without_its_framework_names_the_extra(monkeypatch, adapter, package, extra):
    for name in list(sys.modules):
        if name == adapter or name == package or name.startswith(package + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)  # as if not installed: importing it raises ModuleNotFoundError
    with pytest.raises(ModuleNotFoundError) as raised:
        importlib.import_module(adapter)
    assert f"needs the package's '{extra}' extra (pip install '/path/to/this/checkout[{extra}]')" in str(raised.value)
    assert raised.value.name.split(".")[0] == package


def test_a_module_the_framework_itself_lacks_is_reported_as_it_is():
    with pytest.raises(ModuleNotFoundError) as raised, needs_extra("langchain", "langchain_core"):
        import a_module_nobody_has  # noqa: F401
    assert raised.value.name == "a_module_nobody_has"
    assert "extra" not in str(raised.value)
