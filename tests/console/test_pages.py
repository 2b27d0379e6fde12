"""What the console's pages show: a conversation with each message's role, time and status made visible, sessions
most recently active first a page at a time, and user content always as text."""

from __future__ import annotations

import json
import re

from backend.services.idempotency import now
from tests.console.reading import elements, shown_messages

HOSTILE = "<script>alert(1)</script>"


def conversation_with_every_kind_of_message(service) -> tuple[str, dict[str, int]]:
    """A session holding a plain exchange, an interrupted reply (with what was not heard), a failed one, a reply a
    rewind took out, and a summary; its id and the ids of its messages by name."""
    sid = service.get_or_create_session("conv-1").session_id
    ids = {}
    ids["question"] = service.save_message(sid, "user", "What is the weather?")
    ids["interrupted"] = service.save_message(
        sid, "assistant", "It is sunny", {"status": "interrupted", "unheard": " and warm all day", "model": "m-1"}
    )
    ids["again"] = service.save_message(sid, "user", "And tomorrow?")
    ids["failed"] = service.save_message(sid, "assistant", "Tomorrow it", {"status": "failed"})
    ids["third"] = service.save_message(sid, "user", "Try once more")
    ids["taken_back"] = service.save_message(sid, "assistant", "A reply the user regenerated")
    service.rewind(sid, ids["third"])
    service.add_summary(sid, "The user asks about the weather.", ids["again"])
    return sid, ids


def test_a_conversation_shows_each_message_with_its_role_time_and_status_and_folds_its_metadata(operator, service):
    sid, ids = conversation_with_every_kind_of_message(service)
    response = operator.get(f"/console/sessions/{sid}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = shown_messages(html)
    assert [(m["id"], m["role"], m["content"], m["badges"], m["unheard"]) for m in shown] == [
        (ids["question"], "user", "What is the weather?", [], None),
        (
            ids["interrupted"],
            "assistant",
            "It is sunny",
            ["interrupted"],
            " and warm all day",
        ),
        (ids["again"], "user", "And tomorrow?", ["summarised"], None),
        (ids["failed"], "assistant", "Tomorrow it", ["failed"], None),
        (ids["third"], "user", "Try once more", [], None),
        (ids["taken_back"], "assistant", "A reply the user regenerated", ["superseded"], None),
    ]
    interrupted = shown[1]
    assert interrupted["folded"] and json.loads(interrupted["metadata"].replace("Metadata", "", 1)) == {
        "model": "m-1",
        "status": "interrupted",
        "unheard": " and warm all day",
    }
    assert shown[0]["metadata"] is None  # no metadata: nothing to unfold
    assert shown[2]["summary_markers"] == ["Summary #1 covers the conversation through here."]
    (summary,) = elements(html, "summary", "li")
    assert "The user asks about the weather." in summary["text"] and f"through #{ids['again']}" in summary["text"]
    times = [e["text"] for e in elements(html, tag="time")]
    assert len(times) == 6 and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( UTC)?", t) for t in times)


def test_every_piece_of_user_content_shows_as_text_on_every_page(operator, service):
    session = service.get_or_create_session(
        None, {"<b>key</b>": HOSTILE}, '<img src=x onerror="alert(2)">', owner="<b>eve</b>"
    )
    sid = session.session_id
    reply = service.save_message(sid, "user", HOSTILE, owner="<b>eve</b>")
    service.save_message(sid, "assistant", "ok", {"status": "interrupted", "unheard": HOSTILE}, owner="<b>eve</b>")
    service.add_summary(sid, f"</pre>{HOSTILE}", reply, owner="<b>eve</b>")
    pages = [
        "/console/",
        "/console/?owner=%3Cb%3Eeve%3C/b%3E",
        f"/console/sessions/{sid}",
        "/console/owner?owner=%3Cb%3Eeve%3C/b%3E",
        "/console/owner/export?owner=%3Cb%3Eeve%3C/b%3E",
        "/console/owner/erase?owner=%3Cb%3Eeve%3C/b%3E",
        "/console/sessions/%3Cscript%3Ealert(1)%3C/script%3E",  # a 404 page naming nothing it was given
    ]
    for path in pages:
        html = operator.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html, path
        scripts = elements(html, tag="script")
        assert [s["attrs"].get("src") for s in scripts] == ["/console/static/console.js"], path
    conversation = operator.get(f"/console/sessions/{sid}").get_data(as_text=True)
    first, second = shown_messages(conversation)
    assert first["content"] == HOSTILE and second["unheard"] == HOSTILE
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in conversation
    listing = operator.get("/console/").get_data(as_text=True)
    assert [e["text"] for e in elements(listing, "preview")] == ["ok"]
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in listing and "&lt;b&gt;eve&lt;/b&gt;" in listing


def test_sessions_come_most_recently_active_first_a_page_at_a_time_filtered_by_owner_or_device(operator, service):
    for number in range(53):
        service.get_or_create_session(f"s{number:02}", None, "kiosk" if number % 10 == 0 else None)
    owned = service.get_or_create_session(owner="alice").session_id

    def listed(html):
        return [e["text"] for e in elements(html, "session-link")]

    first = operator.get("/console/").get_data(as_text=True)
    assert listed(first) == [owned] + [f"s{n:02}" for n in range(52, 3, -1)]
    (next_link,) = [e["attrs"]["href"] for e in elements(first, tag="a") if e["attrs"].get("rel") == "next"]
    second = operator.get(next_link).get_data(as_text=True)
    assert listed(second) == ["s03", "s02", "s01", "s00"]
    assert not [e for e in elements(second, tag="a") if e["attrs"].get("rel") == "next"]
    assert listed(operator.get("/console/?device=kiosk").get_data(as_text=True)) == [
        "s50",
        "s40",
        "s30",
        "s20",
        "s10",
        "s00",
    ]
    assert listed(operator.get("/console/?owner=alice").get_data(as_text=True)) == [owned]
    assert listed(operator.get("/console/owner?owner=alice").get_data(as_text=True)) == [owned]
    bad = operator.get("/console/?cursor=not-a-cursor")
    assert bad.status_code == 422 and "cursor" in bad.get_data(as_text=True)


def test_a_missing_session_is_a_404_page_and_a_404_for_the_api(operator):
    page = operator.get("/console/sessions/nobody-here")
    assert (
        page.status_code == 404 and page.mimetype == "text/html" and "session not found" in page.get_data(as_text=True)
    )
    api = operator.get("/console/api/sessions/nobody-here/running-turn")
    assert api.status_code == 404 and api.get_json()["message"] == "session not found"


def test_the_page_finds_the_running_turn_and_its_events_stream_until_done(operator, service):
    sid = service.get_or_create_session("live-1").session_id
    message_id = service.save_message(sid, "user", "hi")
    assert operator.get(f"/console/api/sessions/{sid}/running-turn").get_json() == {"turn_id": None, "events_url": None}
    with service.uow.write() as store:  # a turn running in another process, as its journal writes it
        store.turns.add("t-live", sid, message_id, now())
        store.turns.add_events(
            [
                ("t-live", 2, "delta", json.dumps({"text": "Hel"})),
                ("t-live", 3, "delta", json.dumps({"text": "lo"})),
                ("t-live", 4, "done", json.dumps({"content": "Hello"})),
            ]
        )
    events_url = f"/console/api/sessions/{sid}/turns/t-live/events"
    assert operator.get(f"/console/api/sessions/{sid}/running-turn").get_json() == {
        "turn_id": "t-live",
        "events_url": events_url,
    }
    page = operator.get(f"/console/sessions/{sid}").get_data(as_text=True)
    (live,) = elements(page, tag="section")[-1:]
    assert live["attrs"]["data-events-url"] == events_url
    stream = operator.get(events_url)
    assert stream.mimetype == "text/event-stream"
    frames = [block for block in stream.get_data(as_text=True).split("\n\n") if block]
    assert [f.split("\n")[1] for f in frames] == ["event: message", "event: delta", "event: delta", "event: done"]
    resumed = operator.get(events_url, headers={"Last-Event-ID": "3"}).get_data(as_text=True)
    assert resumed.startswith("id: 4\nevent: done\n")


def test_a_long_conversation_shows_its_newest_messages_and_pages_back_to_the_oldest(operator, service):
    sid = service.get_or_create_session("long-1").session_id
    ids = [m.id for m in service.save_messages(sid, [{"role": "user", "content": f"n{i}"} for i in range(60)])]
    newest = operator.get(f"/console/sessions/{sid}").get_data(as_text=True)
    assert [m["id"] for m in shown_messages(newest)] == ids[10:]
    (older,) = [e["attrs"]["href"] for e in elements(newest, tag="a") if e["attrs"].get("rel") == "prev"]
    assert older == f"/console/sessions/{sid}?before={ids[10]}"
    oldest = operator.get(older).get_data(as_text=True)
    assert [m["content"] for m in shown_messages(oldest)] == [f"n{i}" for i in range(10)]
    assert not [e for e in elements(oldest, tag="a") if e["attrs"].get("rel") == "prev"]
    (live,) = elements(oldest, tag="section")[-1:]
    assert live["attrs"].get("data-paged") == "true"  # an older page does not watch for new turns
