"""The operator listing: bearer token in constant time, hidden without one, keyset-paged newest first."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.api.conftest import ADMIN_TOKEN
from tests.factories import SessionFactory

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def all_pages(client, query=""):
    """Every page of the listing; the session ids in order and the number of pages."""
    ids, pages, cursor = [], 0, None
    while True:
        url = f"/api/v1/sessions?limit=2{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=AUTH)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        ids += [s["session_id"] for s in body["sessions"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


def test_the_listing_is_absent_without_an_admin_token(client):
    response = client.get("/api/v1/sessions", headers=AUTH)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": "Bearer ünïcode"},
    ],
)
def test_the_listing_needs_the_right_bearer_token(admin_client, headers):
    response = admin_client.get("/api/v1/sessions", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "errors" not in response.get_json()


def test_an_unauthorised_request_learns_nothing_from_its_query(admin_client):
    assert admin_client.get("/api/v1/sessions?limit=abc").status_code == 401


def test_sessions_come_most_recently_active_first_over_pages(admin_client, db):
    for i, sid in enumerate(["a", "b", "c", "d", "e"]):
        SessionFactory(session_id=sid, last_active=T0 + timedelta(minutes=i))
    SessionFactory(session_id="tie-1", last_active=T0)
    ids, pages = all_pages(admin_client)
    assert ids == ["e", "d", "c", "b", "tie-1", "a"] and pages == 3


def forget_last_active(engine, *session_ids):
    """As a legacy row may be: last_active NULL (the ORM would let the server default fill it)."""
    with engine.begin() as conn:
        for sid in session_ids:
            conn.execute(sa.text("UPDATE sessions SET last_active = NULL WHERE session_id = :sid"), {"sid": sid})


def test_sessions_without_last_active_come_last_and_are_not_skipped(admin_client, db, engine):
    for sid in ["n1", "n2", "n3"]:
        SessionFactory(session_id=sid)
    SessionFactory(session_id="x", last_active=T0)
    forget_last_active(engine, "n1", "n2", "n3")
    ids, _ = all_pages(admin_client)
    assert ids == ["x", "n3", "n2", "n1"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # only SQLite holds such values
def test_legacy_text_and_epoch_times_on_sqlite_are_each_listed_once(admin_client, db, engine):
    values = {
        "iso-t": "2024-05-06T07:08:09Z",
        "space": "2024-05-06 07:08:10",
        "epoch": 1714979289,
        "junk": "not a date",
    }
    for sid in values:
        SessionFactory(session_id=sid)
    with engine.begin() as conn:
        for sid, value in values.items():
            conn.exec_driver_sql("UPDATE sessions SET last_active = ? WHERE session_id = ?", (value, sid))
    ids, _ = all_pages(admin_client)
    assert sorted(ids) == sorted(values) and len(ids) == len(set(ids))


def test_the_listing_filters_by_device_fingerprint(admin_client, db, engine):
    for i in range(3):
        SessionFactory(session_id=f"mine-{i}", device_fingerprint="fp-1", last_active=T0 + timedelta(seconds=i))
    SessionFactory(session_id="other", device_fingerprint="fp-2")
    SessionFactory(session_id="mine-null", device_fingerprint="fp-1")
    forget_last_active(engine, "mine-null")
    ids, _ = all_pages(admin_client, "&device_fingerprint=fp-1")
    assert ids == ["mine-2", "mine-1", "mine-0", "mine-null"]


def test_the_listing_returns_full_sessions(admin_client):
    admin_client.post("/api/v1/sessions", json={"session_id": "s1", "metadata": {"a": 1}})
    body = admin_client.get("/api/v1/sessions", headers=AUTH).get_json()
    assert body["next_cursor"] is None
    assert body["sessions"][0]["metadata"] == {"a": 1} and body["sessions"][0]["last_active"].endswith("+00:00")


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=garbage!", "cursor"),
        ("cursor=WyJ4Il0", "cursor"),
        ("cursor=" + "A" * 2000, "cursor"),
        ("cursor=eyJ0cyI6MX0", "cursor"),
    ],
)
def test_a_bad_limit_or_cursor_is_422(admin_client, query, field):
    response = admin_client.get(f"/api/v1/sessions?{query}", headers=AUTH)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_every_token_presented_is_compared_in_constant_time(admin_client, monkeypatch):
    import hmac

    from backend.web import auth

    compared, constant_time = [], hmac.compare_digest

    def spy(given, expected):
        compared.append((given, expected))
        return constant_time(given, expected)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    presented = ["wrong-token-0123456789", ADMIN_TOKEN[:-1], ADMIN_TOKEN]
    statuses = [
        admin_client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {t}"}).status_code for t in presented
    ]
    assert statuses == [401, 401, 200]
    # Every token presented was compared with the operator token, only through compare_digest.
    assert set(compared) == {(t.encode(), ADMIN_TOKEN.encode()) for t in presented}


def test_rows_deleted_between_pages_do_not_break_paging(admin_client, db, engine):
    for i in range(4):
        SessionFactory(session_id=f"s{i}", last_active=T0 + timedelta(seconds=i))
    first = admin_client.get("/api/v1/sessions?limit=2", headers=AUTH).get_json()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM sessions WHERE session_id = 's2'"))
    rest = admin_client.get(f"/api/v1/sessions?limit=2&cursor={first['next_cursor']}", headers=AUTH).get_json()
    assert [s["session_id"] for s in first["sessions"] + rest["sessions"]] == ["s3", "s2", "s1", "s0"]
