"""Every relative link of the README and the docs reaches a file, and its #anchor a heading of that file."""

from __future__ import annotations

import re

import pytest

from backend.settings import PROJECT_ROOT
from tests.docs.markdown import text_of

DOCUMENTS = (
    "README.md",
    "docs/api.md",
    "docs/agents.md",
    "docs/configuration.md",
    "docs/console.md",
    "docs/operations.md",
    "docs/security.md",
)
LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]*)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(path: str) -> set[str]:
    """GitHub's anchors of a document's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = FENCED.sub("", text_of(path))
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in HEADING.findall(text)}


LINKS = [(path, target) for path in DOCUMENTS for target in LINK.findall(FENCED.sub("", text_of(path)))]


@pytest.mark.parametrize(("path", "target"), LINKS, ids=[f"{path}->{target}" for path, target in LINKS])
def test_a_link_reaches_its_file_and_heading(path, target):
    file_part, _, anchor = target.partition("#")
    linked = (PROJECT_ROOT / path).parent / file_part if file_part else PROJECT_ROOT / path
    assert linked.is_file(), f"{path}: {target} names no file"
    if anchor:
        relative = str(linked.resolve().relative_to(PROJECT_ROOT))
        assert anchor in anchors(relative), f"{path}: {target}: no such heading in {relative}"
