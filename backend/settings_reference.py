"""The settings reference of docs/configuration.md, generated from backend/settings.py.

A setting is an environment variable that settings.py reads (`_int`, `_float`, `_text` or `os.environ.get` with the
name as a string); its default is the reader's default, and its description the `#:` comment lines right above the
line that reads it (or above the statement holding that line). So a new setting shows up here by itself, and one
without a `#:` description fails the docs test. `python -m backend.settings_reference` (`make docs`) rewrites the
generated section of docs/configuration.md.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from backend import settings

BEGIN = "<!-- settings-reference: begin (generated from backend/settings.py by `make docs`; do not edit here) -->"
END = "<!-- settings-reference: end -->"
DOCUMENT = settings.PROJECT_ROOT / "docs" / "configuration.md"
READERS = ("_int", "_float", "_text")
_OPERATORS = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__}


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, its default as the docs show it, and what it does."""

    name: str
    default: str
    description: str


class _Module:
    """settings.py's syntax tree, with each node's parent and the functions a reference may name."""

    def __init__(self, source: str):
        self.lines = source.splitlines()
        self.tree = ast.parse(source)
        self.parents = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}
        self.classes = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}
        self.functions: dict[str, ast.AST] = {n.name: n for n in self.tree.body if isinstance(n, ast.FunctionDef)}
        for cls in self.classes.values():
            for item in cls.body:
                if isinstance(item, ast.FunctionDef):
                    self.functions[f"{cls.name}.{item.name}"] = item

    def reads(self, node: ast.AST, seen: set[str]) -> list[ast.Call]:
        """The calls reading a variable in `node`, in source order, with those of the functions it names."""
        found: list[ast.Call] = []
        for child in sorted(_descendants(node), key=lambda n: (n.lineno, n.col_offset)):
            if isinstance(child, ast.Call) and _variable(child):
                found.append(child)
            elif (name := _reference(child)) in self.functions and name not in seen:
                seen.add(name)
                found.extend(self.reads(self.functions[name], seen))
        return found

    def setting(self, call: ast.Call) -> Setting:
        """The Setting a reading call declares."""
        name = _variable(call)
        description = self.description(call)
        if not description:
            raise ValueError(f"{name} has no description: add a `#:` comment above the line that reads it")
        return Setting(name, _shown(self.default(call)), description)

    def default(self, call: ast.Call):
        """The value used when the variable is unset: the reader's second argument, or what `or` falls back to."""
        if len(call.args) > 1:
            return self.value(call.args[1], call)
        parent = self.parents.get(call)
        if isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.Or) and parent.values[0] is call:
            return self.value(parent.values[1], call)
        return None

    def value(self, node: ast.AST, where: ast.AST):
        """A constant expression's value; `cls.name` is a class attribute's default."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            result = _OPERATORS[type(node.op)](
                float(self.value(node.left, where)), float(self.value(node.right, where))
            )
            return int(result) if result.is_integer() else result
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cls":
            for item in self._enclosing_class(where).body:
                if isinstance(item, ast.AnnAssign) and getattr(item.target, "id", None) == node.attr:
                    return self.value(item.value, item)
        raise ValueError(f"line {node.lineno}: a default the settings reference cannot show: {ast.unparse(node)}")

    def description(self, call: ast.Call) -> str:
        """The `#:` lines right above the call's line, else right above its statement's first line."""
        statement = call
        while not isinstance(statement, ast.stmt):
            statement = self.parents[statement]
        return self._comment_above(call.lineno) or self._comment_above(statement.lineno)

    def _comment_above(self, lineno: int) -> str:
        lines: list[str] = []
        index = lineno - 2  # the line above, 0-based
        while index >= 0 and self.lines[index].strip().startswith("#"):
            lines.insert(0, self.lines[index].strip())
            index -= 1
        return " ".join(line[2:].strip() for line in lines if line.startswith("#:"))

    def _enclosing_class(self, node: ast.AST) -> ast.ClassDef:
        while not isinstance(node, ast.ClassDef):
            node = self.parents[node]
        return node


def _descendants(node: ast.AST) -> list[ast.AST]:
    return [n for n in ast.walk(node) if n is not node and hasattr(n, "lineno")]


def _variable(call: ast.Call) -> str | None:
    """The variable a call reads: `_int("NAME", ...)`, `os.environ.get("NAME", ...)`; None for other calls."""
    function = call.func
    reader = (isinstance(function, ast.Name) and function.id in READERS) or (
        isinstance(function, ast.Attribute)
        and function.attr == "get"
        and isinstance(function.value, ast.Attribute)
        and function.value.attr == "environ"
    )
    if reader and call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _reference(node: ast.AST) -> str | None:
    """The name a Name or `Class.attribute` node refers to."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _shown(default) -> str:
    if default is None or default == "":
        return "unset"
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"


def settings_in(source: str) -> list[Setting]:
    """Every variable `source` reads: first those read outside Config's fields (APP_ENV, which picks the Config),
    then Config's fields in order, each expanded into the variables its default reads."""
    module = _Module(source)
    seen: set[str] = set()
    config_reads = module.reads(module.classes["Config"], seen)
    everywhere = module.reads(module.tree, set(seen))
    ordered = [call for call in everywhere if call not in config_reads] + config_reads
    result: dict[str, Setting] = {}
    for call in ordered:
        result.setdefault(_variable(call), module.setting(call))
    return list(result.values())


def settings_reference(source: str | None = None) -> str:
    """The Markdown table of every setting backend/settings.py reads (its own source unless `source` is given)."""
    if source is None:
        source = Path(settings.__file__).read_text(encoding="utf-8")
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in settings_in(source):
        meaning = setting.description.replace("|", r"\|")  # a pipe would end the table's cell
        rows.append(f"| `{setting.name}` | {setting.default} | {meaning} |")
    return "\n".join(rows) + "\n"


def generated_section(document: str) -> str:
    """The text between the BEGIN and END markers of `document` (ValueError without them)."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no section between {BEGIN!r} and {END!r}")
    return document[start + len(BEGIN) : end].strip("\n") + "\n"


def with_reference(document: str) -> str:
    """`document` with its generated section replaced by the current settings reference."""
    generated_section(document)  # the markers must be there
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{settings_reference()}{END}{tail}"


def main() -> None:
    """Rewrite the generated section of docs/configuration.md."""
    DOCUMENT.write_text(with_reference(DOCUMENT.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the settings reference into {DOCUMENT}")


if __name__ == "__main__":
    main()
