"""Fenced code blocks of our Markdown documents, with the markers and documented output the docs tests read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from backend.settings import PROJECT_ROOT

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+)(?P<language>[\w+-]*)\s*$")
# `<!-- snippet: skip (why) -->` on the line before a fence (blank lines between allowed): not run, and why.
SKIP = re.compile(r"^\s*<!--\s*snippet:\s*skip\s*\((?P<reason>.+)\)\s*-->\s*$")
SHELL, PYTHON, OUTPUT = ("sh", "bash", "shell"), ("python", "py"), ("text",)


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its language, its text, why it is not run, and its documented output."""

    path: str  # relative to the project root
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    skip: str | None = None
    output: str | None = None  # a ```text block right after this one (nothing but blank lines between)

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.language in SHELL + PYTHON


def blocks(path: str) -> list[Block]:
    """Every fenced block of the document at `path` (relative to the project root), in order."""
    lines = (PROJECT_ROOT / path).read_text(encoding="utf-8").splitlines()
    found: list[tuple[int, int, str, str, str | None]] = []  # start, end, language, text, skip reason
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        text = "\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n"
        found.append((index, end, opening["language"].lower(), text, _skip_reason(lines, index)))
        index = end + 1
    result = []
    for position, (start, end, language, text, skip) in enumerate(found):
        following = found[position + 1] if position + 1 < len(found) else None
        output = None
        if (
            following is not None
            and following[2] in OUTPUT
            and all(not line.strip() for line in lines[end + 1 : following[0]])
        ):
            output = following[3]
        result.append(Block(path, start + 1, language, text, skip, output))
    return result


def _skip_reason(lines: list[str], fence_index: int) -> str | None:
    index = fence_index - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    marker = SKIP.match(lines[index]) if index >= 0 else None
    return marker["reason"].strip() if marker else None


def text_of(path: str | Path) -> str:
    """The whole document."""
    return (PROJECT_ROOT / path).read_text(encoding="utf-8")
