"""The OpenAPI document matches the routes this configuration serves; browsable docs without the internet."""

import re

from openapi_spec_validator import validate


def test_without_an_operator_credential_the_operator_listing_is_not_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    assert set(spec["paths"]["/api/v1/sessions"]) - {"parameters"} == {"post"}
    assert client.get("/api/v1/sessions").status_code == 404  # and indeed it is not served


def test_with_an_operator_credential_the_operator_listing_is_documented(admin_client):
    spec = admin_client.get("/api/v1/openapi.json").get_json()
    assert set(spec["paths"]["/api/v1/sessions"]) - {"parameters"} == {"get", "post"}


def test_every_documented_operation_is_served(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    served = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods
    }
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops if method != "parameters"}
    assert documented <= served


def test_the_docs_page_loads_its_assets_from_this_server(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert set(assets) == {
        "/api/v1/docs/assets/swagger-ui.css",
        "/api/v1/docs/assets/swagger-ui-standalone-preset.js",
        "/api/v1/docs/assets/swagger-ui-bundle.js",
    }
    for url in assets:
        response = client.get(url)
        size = len(response.data)
        response.close()
        assert response.status_code == 200 and size > 1000, url
    assert '"/api/v1/openapi.json"' in html
    assert "http://" not in html and "https://" not in html


def test_only_the_docs_own_assets_are_served(client):
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404
    assert client.get("/api/v1/docs/assets/..%2F..%2Fsetup.py").status_code == 404
