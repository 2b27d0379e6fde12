"""What a console page shows a person: the text of elements picked by class, read with the standard HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Elements(HTMLParser):
    """Every element with its tag, attributes, text (entities decoded) and the classes of its ancestors."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {
            "tag": tag,
            "attrs": dict(attrs),
            "text": "",
            "classes": set((dict(attrs).get("class") or "").split()),
        }
        element["parent"] = self._open[-1] if self._open else None
        self.found.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data


def elements(html: str, css_class: str | None = None, tag: str | None = None) -> list[dict]:
    """The elements of `html` with that class and/or tag, in document order."""
    parser = _Elements()
    parser.feed(html)
    return [
        e for e in parser.found if (css_class is None or css_class in e["classes"]) and (tag is None or e["tag"] == tag)
    ]


def inside(element: dict, css_class: str, html_elements: list[dict]) -> list[dict]:
    """The elements with `css_class` nested in `element`."""
    found = []
    for candidate in html_elements:
        parent = candidate["parent"]
        while parent is not None and parent is not element:
            parent = parent["parent"]
        if parent is element and css_class in candidate["classes"]:
            found.append(candidate)
    return found


def shown_messages(html: str) -> list[dict]:
    """Each message of a conversation page as a person reads it: id, role, content, badges, unheard text, whether
    its metadata is folded (and what it says)."""
    parser = _Elements()
    parser.feed(html)
    everything = parser.found
    shown = []
    for li in (e for e in everything if e["tag"] == "li" and "message" in e["classes"]):
        pick = lambda css: [e["text"].strip() for e in inside(li, css, everything)]  # noqa: E731
        unheard = [e["text"] for e in inside(li, "unheard-text", everything)]  # exactly, spaces and all
        details = [e for e in inside(li, "metadata", everything) if e["tag"] == "details"]
        shown.append(
            {
                "id": int(li["attrs"]["data-message-id"]),
                "role": pick("role")[0],
                "content": pick("content")[0],
                "badges": pick("badge"),
                "unheard": (unheard or [None])[0],
                "metadata": details[0]["text"] if details else None,
                "folded": bool(details) and "open" not in details[0]["attrs"],
                "summary_markers": pick("summary-marker"),
            }
        )
    return shown
