"""Probes, and the OpenAPI document: valid, served at /api/v1/openapi.json, every route with its schemas."""

import sqlalchemy as sa
from openapi_spec_validator import validate

from backend import create_app, settings

ROUTES = {
    "/api/v1/sessions": {"get", "post"},
    "/api/v1/sessions/{session_id}": {"get", "patch", "delete"},
    "/api/v1/sessions/{session_id}/stats": {"get"},
    "/api/v1/sessions/{session_id}/messages": {"get", "post", "delete"},
    "/api/v1/sessions/{session_id}/context": {"get"},
    "/api/v1/sessions/{session_id}/summaries": {"post"},
    "/api/v1/sessions/{session_id}/rewind": {"post"},
    "/api/v1/chat": {"post"},
    "/api/v1/voice": {"post"},
    "/api/v1/sessions/{session_id}/turns/{turn_id}": {"get"},
    "/api/v1/sessions/{session_id}/turns/{turn_id}/events": {"get"},
    "/api/v1/sessions/{session_id}/turns/{turn_id}/stop": {"post"},
    "/api/v1/search": {"get"},
    "/api/v1/owners/{owner}/export": {"get"},
    "/api/v1/owners/{owner}": {"delete"},
    "/api/v1/me/export": {"get"},
    "/api/v1/me": {"delete"},
    "/healthz": {"get"},
    "/readyz": {"get"},
}


def test_healthz_answers_ok_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_answers_200_at_the_newest_revision(client):
    from backend.store.migrations import head_revision

    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "revision": head_revision()}


def test_readyz_is_503_for_a_database_never_migrated(tmp_path):
    client = create_app(settings.TestingConfig(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and "alembic upgrade head" in response.get_json()["message"]


def test_readyz_is_503_for_a_database_behind_the_code(tmp_path, database_url, engine):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        client = create_app(settings.TestingConfig(DATABASE_URL=database_url)).test_client()
        response = client.get("/readyz")
        assert response.status_code == 503 and "0001" in response.get_json()["message"]
    finally:
        from backend.store.migrations import head_revision

        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})


def test_the_openapi_document_validates_and_lists_every_route(admin_client):
    response = admin_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert {path: set(ops) - {"parameters"} for path, ops in spec["paths"].items()} == ROUTES


def test_every_operation_documents_its_schemas_and_a_summary(admin_client):
    spec = admin_client.get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation.get("summary"), (method, path)
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert success, (method, path)
            for code in success:
                if code != "204":
                    (content,) = operation["responses"][code]["content"].values()  # JSON, or the SSE stream
                    assert "schema" in content, (method, path, code)
            if method in ("post", "patch"):
                assert "requestBody" in operation, (method, path)
    schemas = spec["components"]["schemas"]
    assert {"Session", "Message", "ChatRequest", "VoiceRequest", "ChatResponse", "HistoryPage", "SessionPage"} <= set(
        schemas
    )
    assert spec["paths"]["/api/v1/sessions"]["get"]["security"] == [{"bearerAuth": []}]
    assert "401" in spec["paths"]["/api/v1/sessions"]["get"]["responses"]
    assert "502" in spec["paths"]["/api/v1/chat"]["post"]["responses"]
