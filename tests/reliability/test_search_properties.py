"""Any text as a search query: a page or a 422 naming q, never a database error; a word of a message finds it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.services.errors import InvalidInput

QUERY_PARTS = st.sampled_from(
    ['"', "-", "OR", "AND", "NOT", "*", "^", ":", "(", ")", "NEAR", "'", "\\", " ", "é", "中文"]
)
QUERIES = st.lists(QUERY_PARTS | st.text(max_size=8), max_size=12).map(" ".join) | st.text(max_size=60)
WORDS = st.text(st.characters(categories=("Ll", "Lu", "Nd")), min_size=2, max_size=12)


@pytest.fixture
def seeded(service):
    sid = service.get_or_create_session("props").session_id
    service.save_message(sid, "user", 'a "quoted" text with OR and NOT and -dash and (parens) near* it')
    return service


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES)
def test_any_query_is_a_page_or_a_422_naming_q(seeded, query):
    try:
        page = seeded.search(query)
    except InvalidInput as refused:
        assert list(refused.errors) == ["q"]
    else:
        assert all("<script" not in hit.snippet for hit in page.hits)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(word=WORDS)
def test_a_word_written_is_found_at_once(service, word):
    sid = service.get_or_create_session("words").session_id
    message_id = service.save_message(sid, "user", f"before {word} after")
    found = [hit.message.id for hit in service.search(word, session_id=sid, limit=100).hits]
    assert message_id in found
