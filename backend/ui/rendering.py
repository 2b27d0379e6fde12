"""How the console shows values: times, metadata, a search hit's snippet, and each message's status."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from backend.store.records import MessageRecord, SummaryRecord
from backend.ui.blueprint import bp

_MARKS = re.compile(r"(</?mark>)")
# Metadata keys the turns write on a reply, shown as the message's status rather than only in its metadata.
STATUS_KEY, UNHEARD_KEY = "status", "unheard"


@bp.app_template_filter("when")
def when(value: datetime | None) -> str:
    """A time to the second, with its offset when it has one; a dash for none."""
    if value is None:
        return "—"
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    offset = value.utcoffset()
    if offset is None:
        return text
    return f"{text} UTC" if not offset else f"{text} {value.strftime('%z')}"


@bp.app_template_filter("as_json")
def as_json(value) -> str:
    """A metadata value as indented JSON text (escaped by the template like any text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@bp.app_template_filter("marked_snippet")
def marked_snippet(snippet: str) -> Markup:
    """A search snippet as HTML in which only <mark> and </mark> are markup: the text between them is escaped here
    whatever the search did to it (escaped text comes out the same; raw text comes out escaped)."""
    parts = _MARKS.split(snippet or "")
    return Markup(
        "".join(part if part in ("<mark>", "</mark>") else str(escape(html.unescape(part))) for part in parts)
    )


@dataclass(frozen=True, slots=True)
class ShownMessage:
    """A message as the conversation page shows it: the record, its marks, what was not heard, its other metadata,
    and the summaries that cover through it."""

    record: MessageRecord
    marks: tuple[str, ...]
    unheard: str | None
    metadata: dict
    summaries: tuple[SummaryRecord, ...]


def shown_messages(
    messages: list[MessageRecord], superseded: frozenset[int], summaries: list[SummaryRecord]
) -> list[ShownMessage]:
    """The page's messages with their marks: interrupted or failed (the turn's status), superseded (taken out by a
    rewind), summarised (a summary covers through it)."""
    covering: dict[int, list[SummaryRecord]] = {}
    for summary in summaries:
        covering.setdefault(summary.covers_through, []).append(summary)
    shown = []
    for message in messages:
        metadata = message.metadata if isinstance(message.metadata, dict) else {"value": message.metadata}
        marks = []
        status = metadata.get(STATUS_KEY)
        if isinstance(status, str) and status:
            marks.append(status)
        if message.id in superseded:
            marks.append("superseded")
        if message.id in covering:
            marks.append("summarised")
        unheard = metadata.get(UNHEARD_KEY)
        shown.append(
            ShownMessage(
                message,
                tuple(marks),
                unheard if isinstance(unheard, str) else None,
                metadata,
                tuple(covering.get(message.id, ())),
            )
        )
    return shown
