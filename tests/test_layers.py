"""The layout tells the architecture: no import runs from a lower layer to a higher one, and the services
know no SQL, no dialect and no driver."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend.settings import PROJECT_ROOT

BACKEND = PROJECT_ROOT / "backend"
# Each layer may import the ones after it, never the ones before it.
LAYERS = ["api", "ui", "web", "adapters", "schemas", "services", "store", "observability", "models"]
# What each layer may not import, beyond the layers above it (schemas reuse the services' value rules).
ALSO_FORBIDDEN = {
    "api": {"backend.ui"},  # the API and the console are siblings over the same services
    "services": {"flask", "werkzeug", "flask_smorest", "sqlalchemy.dialects", "psycopg", "sqlite3"},
    "schemas": {"backend.store.repositories", "backend.store.sql", "backend.store.unit_of_work"},
}


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "_migrations" not in p.parts)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(layer: str) -> set[str]:
    above = {f"backend.{name}" for name in LAYERS[: LAYERS.index(layer)]}
    return above | ALSO_FORBIDDEN.get(layer, set())


@pytest.mark.parametrize("layer", LAYERS)
def test_no_import_runs_upward(layer):
    upward = {
        f"{path.relative_to(PROJECT_ROOT)} imports {name}"
        for path in _modules(BACKEND / layer)
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in _forbidden(layer))
    }
    assert not upward


def test_no_service_module_touches_sql_statements_a_dialect_or_a_cursor():
    offenders = {
        str(path.relative_to(PROJECT_ROOT))
        for path in _modules(BACKEND / "services")
        for word in ("dialect", ".cursor(", "sa.select", "sa.text", ".execute(", "store.sql", "store.transaction")
        if word in path.read_text(encoding="utf-8")
    }
    assert not offenders


def test_no_module_of_the_package_is_over_250_lines():
    long = {
        str(p.relative_to(PROJECT_ROOT)): n for p in _modules(BACKEND) if (n := len(p.read_text().splitlines())) > 250
    }
    assert not long
