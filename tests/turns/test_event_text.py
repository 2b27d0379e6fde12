"""An event's JSON text is made once: the journal keeps it, every frame sends it, a replay sends the kept text."""

from __future__ import annotations

import json

from backend.store.turn_records import TurnEvent, event_json
from backend.web.sse import frame

DATA = {"text": 'é 你好 \u2028 "quoted" \\ 🎙', "n": 1.5, "none": None}


def test_the_text_is_compact_json_with_non_ascii_as_it_is():
    event = TurnEvent.of(3, "delta", DATA)
    assert event.data_json == '{"text":"é 你好 \u2028 \\"quoted\\" \\\\ 🎙","n":1.5,"none":null}'
    assert json.loads(event.data_json) == DATA


def test_a_frame_sends_the_text_with_its_id_and_name():
    event = TurnEvent.of(3, "delta", DATA)
    assert frame(event) == f"id: 3\nevent: delta\ndata: {event_json(DATA)}\n\n".encode()


def test_a_kept_event_is_the_event_that_was_kept_and_frames_the_same():
    sent = TurnEvent.of(7, "done", {"content": "ça va", "metadata": {"status": "interrupted"}})
    kept = TurnEvent.kept(sent.id, sent.event, sent.data_json)
    assert kept == sent
    assert frame(kept) == frame(sent)
