"""How the console turns values into a page: a search snippet keeps its highlights and nothing else as markup."""

from __future__ import annotations

import pytest

from backend.ui.rendering import marked_snippet


@pytest.mark.parametrize(
    ("snippet", "shown"),
    [
        ("the <mark>weather</mark> &amp; more", "the <mark>weather</mark> &amp; more"),
        (
            "&lt;script&gt;alert(1)&lt;/script&gt; <mark>x</mark>",
            "&lt;script&gt;alert(1)&lt;/script&gt; <mark>x</mark>",
        ),
        ("<script>alert(1)</script> <mark>x</mark>", "&lt;script&gt;alert(1)&lt;/script&gt; <mark>x</mark>"),
        ("<mark onclick=alert(1)>x</mark>", "&lt;mark onclick=alert(1)&gt;x</mark>"),
        ("&lt;mark&gt;not a highlight&lt;/mark&gt;", "&lt;mark&gt;not a highlight&lt;/mark&gt;"),
        ("", ""),
    ],
    ids=["escaped text", "escaped tags", "raw tags", "a mark with attributes", "escaped marks", "empty"],
)
def test_a_snippet_keeps_only_its_highlights_as_markup_whatever_the_search_escaped(snippet, shown):
    assert str(marked_snippet(snippet)) == shown
