"""Erased means gone from the files: no byte of an erased owner's content is left in SQLite's file or its WAL;
and the `session-store export` and `erase` commands."""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend import create_app, settings
from backend.cli import main
from backend.services.session import SessionService
from tests.auth.tokens import AUDIENCE, ISSUER, claims, public_pem, rsa_key, sign

KEY = rsa_key()
ALICE = {"Authorization": f"Bearer {sign(KEY, claims('alice'))}"}
BOB = {"Authorization": f"Bearer {sign(KEY, claims('bob'))}"}


def occurrences(database: Path, needle: bytes) -> dict[str, int]:
    """How often `needle` appears in the database file and in its WAL, byte for byte."""
    return {
        path.name: path.read_bytes().count(needle)
        for path in (database, database.with_name(database.name + "-wal"))
        if path.exists()
    }


def checkpoint(database: Path) -> None:
    """Copy every page from the WAL into the file, as SQLite does on its own from time to time."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.fixture
def database(tmp_path, sqlite_template) -> Path:
    path = tmp_path / "sessions.db"
    sqlite_template.copy_to(path)
    return path


def fill_with_marker(database: Path, marker: str) -> None:
    """Alice's data holding `marker` everywhere content goes: messages (and their search index), metadata of a
    message and of a session, a summary, an idempotency key's stored outcome, a streamed turn's events."""
    app = create_app(
        settings.TestingConfig(
            DATABASE_URL=f"sqlite:///{database}",
            AUTH_MODE="jwt",
            JWT_PUBLIC_KEY=public_pem(KEY),
            JWT_AUDIENCE=AUDIENCE,
            JWT_ISSUER=ISSUER,
            ADMIN_TOKEN=None,
            CHAT_AGENT="tests.fakes.agents:streaming",
        )
    )
    http = app.test_client()
    sid = http.post("/api/v1/sessions", json={"metadata": {"note": marker}}, headers=ALICE).get_json()["session_id"]
    for i in range(30):  # enough rows for the search index to hold several segments
        message = {"role": "user", "content": f"words {i} and the secret {marker} again", "metadata": {"m": marker}}
        response = http.post(
            f"/api/v1/sessions/{sid}/messages", json=message, headers={**ALICE, "Idempotency-Key": f"key-{i}"}
        )
        assert response.status_code == 201
    stream = http.post(
        "/api/v1/chat",
        json={"session_id": sid, "message": f"say {marker}"},
        headers={**ALICE, "Accept": "text/event-stream"},
    )
    assert marker in stream.get_data(as_text=True)
    service = SessionService(f"sqlite:///{database}")
    service.add_summary(sid, f"summary of {marker}", service.get_chat_history(sid)[-1].id)
    bobs = http.post("/api/v1/sessions", json={}, headers=BOB).get_json()["session_id"]
    http.post(f"/api/v1/sessions/{bobs}/messages", json={"role": "user", "content": "bob keeps this"}, headers=BOB)


def test_after_an_erase_no_byte_of_the_content_is_left_in_the_file_or_its_wal(database):
    marker = f"erasemarker{secrets.token_hex(8)}"
    tail = marker[-12:].encode()  # the search index stores a word's end after the prefix it shares with the one before
    fill_with_marker(database, marker)
    checkpoint(database)  # the content is in the file itself now, not only in the WAL
    assert occurrences(database, tail)[database.name] >= 30  # the test can fail: the marker is there
    service = SessionService(f"sqlite:///{database}")
    erased = service.erase_owner("alice")
    assert erased.file_scrubbed is True
    assert erased.counts["messages"] == 32 and erased.counts["idempotency_keys"] == 30
    assert erased.counts["turn_events"] >= 1 and erased.counts["summaries"] == 1
    assert occurrences(database, tail) == {database.name: 0, f"{database.name}-wal": 0}
    assert (
        occurrences(database, b"bob keeps this")[database.name]
        + occurrences(database, b"bob keeps this").get(f"{database.name}-wal", 0)
        >= 1
    )
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("INSERT INTO message_search(message_search) VALUES ('integrity-check')").rowcount
    assert [hit.message.content for hit in service.search("bob").hits] == ["bob keeps this"]


def test_a_plain_delete_zeroes_the_row_and_leaves_only_index_words_until_an_erase(database):
    word, other = f"deleteword{secrets.token_hex(6)}", secrets.token_hex(6)
    joined = f"{word}_{other}"  # the row holds it whole; the search index holds its two words apart
    service = SessionService(f"sqlite:///{database}")
    sid = service.get_or_create_session("gone").session_id
    service.save_message(sid, "user", joined)
    checkpoint(database)
    assert occurrences(database, joined.encode())[database.name] == 1
    service.delete_session(sid)
    checkpoint(database)
    assert occurrences(database, joined.encode())[database.name] == 0  # secure_delete zeroed the row
    # The words stay in the index's segments until they merge: an erase merges them (test above).
    assert occurrences(database, word[-12:].encode())[database.name] >= 1


def cli(database: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, env={"SESSION_DB_PATH": str(database), "DATABASE_URL": ""})


def test_export_and_erase_commands(database, tmp_path):
    marker = f"climarker{secrets.token_hex(6)}"
    fill_with_marker(database, marker)
    out = tmp_path / "alice.ndjson"
    result = cli(database, "export", "--owner", "alice", "--output", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[-1] == {"type": "end", "sessions": 1, "messages": 32, "summaries": 1, "turns": 1}
    assert "exported 1 session(s) and 32 message(s) of alice" in result.output
    refused = cli(database, "erase", "--owner", "alice", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert SessionService(f"sqlite:///{database}").list_sessions(owner="alice").sessions  # nothing erased
    result = cli(database, "erase", "--owner", "alice", input="y\n")
    assert result.exit_code == 0, result.output
    assert "erased 1 sessions, 32 messages, 1 summaries, 1 turns" in result.output
    again = cli(database, "erase", "--owner", "alice", "--yes")
    assert "erased 0 sessions, 0 messages" in again.output
