"""GET /api/v1/search: words, phrases, exclusions and OR over live messages, newest first, owners kept apart."""

from __future__ import annotations

import pytest

from backend.services.cursors import encode_cursor
from backend.services.errors import InvalidInput
from backend.services.session import SessionService
from backend.store.engines import create_engine
from tests.api.conftest import ADMIN_TOKEN
from tests.auth.tokens import ADMIN_SCOPE, AUDIENCE, ISSUER, claims, public_pem, rsa_key, sign

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KEY = rsa_key()
ALICE = {"Authorization": f"Bearer {sign(KEY, claims('alice'))}"}
BOB = {"Authorization": f"Bearer {sign(KEY, claims('bob'))}"}
OPERATOR = {"Authorization": f"Bearer {sign(KEY, claims('ops', scope=f'openid {ADMIN_SCOPE}'))}"}


def search(client, query: str, headers=AUTH, status: int = 200):
    response = client.get(
        "/api/v1/search", query_string={"q": query} if isinstance(query, str) else query, headers=headers
    )
    assert response.status_code == status, response.get_json()
    return response.get_json()


def contents(body) -> list[str]:
    return [hit["message"]["content"] for hit in body["hits"]]


@pytest.fixture
def conversation(service):
    """One session: three messages of a support conversation and a hostile one."""
    sid = service.get_or_create_session("support-1").session_id
    service.save_message(sid, "user", "My refund for order 1234 never arrived")
    service.save_message(sid, "assistant", "The refund was sent on Monday; expect it within five days.")
    service.save_message(sid, "user", "And the e-mail receipt? <script>alert(1)</script>")
    return sid


def test_search_is_for_operators_in_none_mode(client, admin_client, conversation):
    assert client.get("/api/v1/search?q=refund", headers=AUTH).status_code == 404  # no ADMIN_TOKEN: no search
    assert admin_client.get("/api/v1/search?q=refund").status_code == 401
    assert admin_client.get("/api/v1/search?q=refund", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_hit_is_the_message_as_the_history_shows_it_with_its_session_and_a_snippet(admin_client, conversation):
    body = search(admin_client, "monday")
    history = admin_client.get(f"/api/v1/sessions/{conversation}/messages").get_json()["messages"]
    assert body == {
        "hits": [
            {
                "session_id": conversation,
                "message": history[1],
                "snippet": body["hits"][0]["snippet"],
            }
        ],
        "next_cursor": None,
    }
    assert "<mark>Monday</mark>" in body["hits"][0]["snippet"]


def test_user_content_in_a_snippet_is_escaped(admin_client, conversation):
    (hit,) = search(admin_client, "receipt")["hits"]
    assert "<script>" not in hit["snippet"] and "<mark>receipt</mark>" in hit["snippet"]
    assert hit["message"]["content"].endswith("<script>alert(1)</script>")  # the message itself is as stored


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "refund",
            ["The refund was sent on Monday; expect it within five days.", "My refund for order 1234 never arrived"],
        ),
        ("REFUND order", ["My refund for order 1234 never arrived"]),
        ('"refund was"', ["The refund was sent on Monday; expect it within five days."]),
        ('"was refund"', []),
        ("refund -monday", ["My refund for order 1234 never arrived"]),
        ('refund -"sent on"', ["My refund for order 1234 never arrived"]),
        (
            "receipt OR 1234",
            ["And the e-mail receipt? <script>alert(1)</script>", "My refund for order 1234 never arrived"],
        ),
        ("refund, please!", []),
        ("² -monday", []),  # a word the database ignores finds nothing, not every message without "monday"
        ("nothing-like-this", []),
    ],
)
def test_words_phrases_exclusions_and_or(admin_client, conversation, query, expected):
    assert contents(search(admin_client, query)) == expected


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "must contain a word to search for"),
        ("   ", "must contain a word to search for"),
        ("?!", "must contain a word to search for (letters or digits)"),
        ('"refund', 'has a quote (") that is not closed'),
        ("OR refund", "OR must stand between two terms"),
        ("refund OR", "OR must stand between two terms"),
        ("refund OR OR order", "OR must stand between two terms"),
        ("-refund", "needs a word to find beside each excluded one (-word leaves out, it does not find)"),
        ("x" * 501, "must be at most 500 characters"),
        (" ".join(["w"] * 17), "must have at most 16 terms"),
    ],
)
def test_a_query_that_cannot_be_run_is_a_422_naming_q(admin_client, conversation, query, problem):
    body = search(admin_client, query, status=422)
    assert body["errors"] == {"q": [problem]}


def test_bad_filters_are_422s_naming_each(admin_client, service):
    body = search(admin_client, {"q": "refund", "role": "robot", "limit": 0}, status=422)
    role_and_limit = {
        "role": ["must be one of: user, assistant, system, tool"],
        "limit": ["must be a positive integer"],
    }
    assert body["errors"] == role_and_limit
    with pytest.raises(InvalidInput) as raised:
        service.search("refund", role="robot", limit=0, cursor="nope")
    assert raised.value.errors == {**role_and_limit, "cursor": ["is not a cursor issued by this server"]}
    for cursor in ("bm9wZQ", encode_cursor([2**63]), encode_cursor([0]), encode_cursor([True]), encode_cursor([1, 2])):
        assert search(admin_client, {"q": "refund", "cursor": cursor}, status=422)["errors"] == {
            "cursor": ["is not a cursor issued by this server"]
        }
    assert search(admin_client, {}, status=422)["errors"] == {"q": ["Missing data for required field."]}


def test_pages_go_newest_first_and_hold_every_hit_once(admin_client, service):
    sid = service.get_or_create_session("many").session_id
    ids = service.save_messages(sid, [{"role": "user", "content": f"needle number {i}"} for i in range(7)])
    service.save_message(sid, "user", "no match here")
    found, cursor, pages = [], None, 0
    while True:
        query = {"q": "needle", "limit": 3} | ({"cursor": cursor} if cursor else {})
        body = search(admin_client, query)
        found += [hit["message"]["id"] for hit in body["hits"]]
        pages, cursor = pages + 1, body["next_cursor"]
        if cursor is None:
            break
    assert found == sorted((m.id for m in ids), reverse=True)
    assert pages == 3


def test_filters_by_session_and_role(admin_client, service, conversation):
    other = service.get_or_create_session("support-2").session_id
    service.save_message(other, "assistant", "Your refund is on its way")
    assert contents(search(admin_client, {"q": "refund", "session_id": other})) == ["Your refund is on its way"]
    assert contents(search(admin_client, {"q": "refund", "role": "assistant"})) == [
        "Your refund is on its way",
        "The refund was sent on Monday; expect it within five days.",
    ]


def test_the_index_follows_every_write_rewind_and_delete(admin_client, service, conversation):
    history = service.get_chat_history(conversation)
    service.rewind(conversation, history[0].id)  # the reply and the last question are superseded
    assert contents(search(admin_client, "refund")) == ["My refund for order 1234 never arrived"]
    assert contents(search(admin_client, "receipt")) == []
    service.save_message(conversation, "assistant", "A new reply about the refund")
    assert contents(search(admin_client, "refund")) == [
        "A new reply about the refund",
        "My refund for order 1234 never arrived",
    ]
    service.clear_history(conversation)
    assert search(admin_client, "refund")["hits"] == []
    service.save_message(conversation, "user", "refund once more")
    service.delete_session(conversation)
    assert search(admin_client, "refund")["hits"] == []


@pytest.fixture
def jwt_client(make_app):
    app = make_app(AUTH_MODE="jwt", JWT_PUBLIC_KEY=public_pem(KEY), JWT_AUDIENCE=AUDIENCE, JWT_ISSUER=ISSUER)
    return app.test_client()


def test_a_user_finds_only_their_own_messages_and_an_operator_finds_all(jwt_client):
    for headers, text in ((ALICE, "alice asks about the invoice"), (BOB, "bob asks about the invoice")):
        sid = jwt_client.post("/api/v1/sessions", json={}, headers=headers).get_json()["session_id"]
        response = jwt_client.post(
            f"/api/v1/sessions/{sid}/messages", json={"role": "user", "content": text}, headers=headers
        )
        assert response.status_code == 201
    assert contents(search(jwt_client, "invoice", ALICE)) == ["alice asks about the invoice"]
    assert contents(search(jwt_client, "bob invoice", ALICE)) == []
    assert contents(search(jwt_client, {"q": "invoice", "owner": "bob"}, ALICE)) == []
    assert contents(search(jwt_client, "invoice", OPERATOR)) == [
        "bob asks about the invoice",
        "alice asks about the invoice",
    ]
    assert contents(search(jwt_client, {"q": "invoice", "owner": "bob"}, OPERATOR)) == ["bob asks about the invoice"]
    assert jwt_client.get("/api/v1/search?q=invoice").status_code == 401


def test_a_search_leaves_its_pooled_connection_as_it_found_it(postgres_schema):
    # PostgreSQL searches run without parallel workers (SET, then RESET on the same pooled connection).
    postgres_schema.empty()
    service = SessionService(create_engine(postgres_schema.url))  # a pool of its own: one connection, reused
    service.get_or_create_session("pg")
    with service.engine.connect() as connection:
        configured = connection.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar_one()
    assert service.search("anything").hits == []
    assert service.engine.pool.checkedin() == 1
    with service.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar_one() == configured
    assert configured != "0"
    service.engine.dispose()


@pytest.mark.parametrize(
    "query", ["bob@example.com", "bob", "shop.example.com", "example", "2.5.1", "3.14", "alert", "wrapped"]
)
def test_words_inside_addresses_numbers_and_markup_are_found(admin_client, service, query):
    sid = service.get_or_create_session("tokens").session_id
    service.save_message(sid, "user", "mail bob@example.com, see https://shop.example.com/x, version 2.5.1 costs 3.14")
    service.save_message(sid, "user", "<b>wrapped</b> <script>alert(1)</script>")
    assert len(search(admin_client, query)["hits"]) == 1
