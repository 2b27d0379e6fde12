"""The console in a real browser: Chromium (Playwright) against real gunicorn on SQLite. An operator signs in, reads
the sessions, opens a conversation whose hostile message shows as text, and follows a turn live until its
interrupted reply is marked. Each page is kept as a screenshot (tests/console/browser.py, ARTIFACTS)."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from playwright.sync_api import expect

from backend.services.session import SessionService
from tests.api.conftest import ADMIN_TOKEN
from tests.console.browser import ARTIFACTS, screenshot
from tests.fakes.streaming_agent import StreamingAgent
from tests.servers import Server, migrate
from tests.turns.sse_client import StreamedChat

pytestmark = [pytest.mark.slow, pytest.mark.browser]
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def agent():
    """A real streaming agent on loopback that holds after two chunks until released."""
    server = StreamingAgent(chunks=["Once upon ", "a time ", "there was a store."], gap_s=0.05, hold_after=2)
    yield server
    server.release.set()
    server.close()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory, agent):
    """gunicorn with 2 workers, an operator token and the streaming agent, over a migrated SQLite file."""
    for old in ARTIFACTS.glob("*.png") if ARTIFACTS.is_dir() else ():
        old.unlink()  # the screenshots of this run only
    folder = tmp_path_factory.mktemp("console")
    database_url = f"sqlite:///{folder / 'sessions.db'}"
    migrate(database_url)
    server = Server(
        database_url, folder / "server.log", ADMIN_TOKEN=ADMIN_TOKEN, CHAT_AGENT_URL=f"{agent.base_url}/stream"
    )
    server.start(timeout_s=60)
    yield server
    server.stop()


@pytest.fixture
def store(console_server):
    """The server's database, as the service sees it (for what the API cannot do in none mode: owners)."""
    service = SessionService(console_server.database_url)
    yield service
    service.engine.dispose()


def api(server, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{server.base_url}/api/v1{path}", timeout=10, **kwargs)


def sign_in(page, server, path: str = "/console/") -> None:
    """Open `path`, meet the sign-in page, post the operator token: back on `path`."""
    page.set_default_timeout(TIMEOUT_MS)
    response = page.goto(f"{server.base_url}{path}")
    assert response.status == 401
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "sign-in")
    page.get_by_label("Operator token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.base_url}{path}")


def test_an_operator_signs_in_reads_the_sessions_and_the_token_never_appears_in_a_url(page, console_server, store):
    server = console_server
    for number in range(3):
        assert api(server, "POST", "/sessions", json={"session_id": f"browse-{number}"}).status_code == 201
        api(server, "POST", f"/sessions/browse-{number}/messages", json={"role": "user", "content": f"note {number}"})
    store.get_or_create_session(None, None, "kiosk-7", owner="alice@example.com")
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, server)
    rows = page.locator("table.sessions tbody tr")
    expect(rows.first).to_be_visible()
    links = page.locator("a.session-link").all_inner_texts()
    assert links[1:4] == ["browse-2", "browse-1", "browse-0"] and len(links) == 4  # most recently active first
    expect(page.get_by_role("link", name="alice@example.com")).to_be_visible()
    screenshot(page, "sessions")
    page.get_by_label("Device").fill("kiosk-7")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("a.session-link")).to_have_count(1)
    screenshot(page, "sessions-filtered")
    assert urls and not [url for url in urls if ADMIN_TOKEN in url]
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["session_store_console"]["httpOnly"] and cookies["session_store_console"]["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in cookies["session_store_console"]["value"]


def test_a_hostile_message_shows_as_text_and_runs_nothing(page, console_server):
    server = console_server
    assert api(server, "POST", "/sessions", json={"session_id": "hostile"}).status_code == 201
    api(server, "POST", "/sessions/hostile/messages", json={"role": "user", "content": HOSTILE})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, server, "/console/sessions/hostile")
    message = page.locator("li.message").first
    expect(message.locator(".content")).to_have_text(HOSTILE)
    assert page.locator("li.message img").count() == 0 and page.locator("main script").count() == 0
    screenshot(page, "conversation-hostile")
    assert dialogs == []


def test_a_running_turn_is_followed_live_and_its_interrupted_reply_is_marked(page, console_server, agent):
    server = console_server
    assert api(server, "POST", "/sessions", json={"session_id": "live"}).status_code == 201
    sign_in(page, server, "/console/sessions/live")
    expect(page.locator("p.empty")).to_have_text("No messages.")
    chat = StreamedChat(server.base_url, {"session_id": "live", "message": "Tell me a story"}, timeout_s=30)
    events = iter(chat)
    turn_id = next(events)[1]["turn_id"]
    reader = threading.Thread(target=lambda: list(events), daemon=True)  # keeps the client's stream open
    reader.start()
    live = page.locator("#live-reply .content")
    expect(live).to_have_text("Once upon a time ")  # the page found the running turn and follows its deltas
    expect(page.locator("#live-message .content")).to_have_text("Tell me a story")
    screenshot(page, "conversation-live")
    stopped = api(server, "POST", f"/sessions/live/turns/{turn_id}/stop", json={"heard_chars": 5})
    assert stopped.status_code == 200 and stopped.json()["status"] == "interrupted"
    reply = page.locator("li.message.role-assistant")
    expect(reply.locator(".badge-interrupted")).to_have_text("interrupted")  # the page reloaded what was stored
    expect(reply.locator(".content")).to_have_text("Once ")
    expect(reply.locator(".unheard-text")).to_have_text("upon a time ")
    expect(reply.locator("details.metadata")).not_to_have_attribute("open", "")
    screenshot(page, "conversation-interrupted")
    agent.release.set()
    reader.join(10)


def test_search_finds_a_word_and_highlights_it(page, console_server):
    server = console_server
    assert api(server, "POST", "/sessions", json={"session_id": "searched"}).status_code == 201
    for content in ("Where is my parcel?", "Your parcel left the depot", "Thanks"):
        api(server, "POST", "/sessions/searched/messages", json={"role": "user", "content": content})
    sign_in(page, server, "/console/search")
    page.get_by_label("Words").fill("parcel")
    page.get_by_role("button", name="Search").click()
    hits = page.locator("li.hit")
    expect(hits).to_have_count(2)
    expect(page.locator(".snippet mark")).to_have_text(["parcel", "parcel"])  # newest first
    expect(hits.first.locator(".snippet")).to_have_text("Your parcel left the depot")
    screenshot(page, "search")
    hits.first.locator("a.session-link").click()
    page.wait_for_url(f"{server.base_url}/console/sessions/searched#message-*")
    expect(page.locator("li.message")).to_have_count(3)


def test_an_owner_is_exported_then_erased_after_confirmation(page, console_server, store):
    server = console_server
    kept = store.get_or_create_session(owner="bob@example.com").session_id
    erased = [store.get_or_create_session(owner="carol@example.com").session_id for _ in range(2)]
    for sid in erased:
        store.save_message(sid, "user", "carol's secret", owner="carol@example.com")
    sign_in(page, server, "/console/owner?owner=carol%40example.com")
    expect(page.locator("a.session-link")).to_have_count(2)
    screenshot(page, "owner")
    page.get_by_role("link", name="Export their data…").click()
    expect(page.get_by_role("heading")).to_contain_text("Export the data of carol@example.com")
    screenshot(page, "export-confirmation")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the export").click()
    assert download.value.suggested_filename == "export-carol_example.com.ndjson"
    lines = [json.loads(line) for line in download.value.path().read_text(encoding="utf-8").splitlines()]
    assert lines[-1] == {"type": "end", "sessions": 2, "messages": 2, "summaries": 0, "turns": 0}
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Erase their data…").click()
    screenshot(page, "erase-confirmation")
    page.get_by_label("Type the owner to confirm").fill("carol")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.locator(".problem")).to_contain_text("nothing was erased")
    assert len(store.list_sessions(owner="carol@example.com").sessions) == 2
    page.get_by_label("Type the owner to confirm").fill("carol@example.com")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.locator('[data-count="sessions"]')).to_have_text("2")
    expect(page.locator('[data-count="messages"]')).to_have_text("2")
    expect(page.locator(".scrubbed")).to_contain_text("scrubbed")
    screenshot(page, "erased")
    assert store.list_sessions(owner="carol@example.com").sessions == []
    assert [s.session_id for s in store.list_sessions(owner="bob@example.com").sessions] == [kept]
