"""The OpenAPI schema is valid and documents our conventions; the docs page works under the
strict CSP (no inline script or style)."""

from __future__ import annotations

import re

import pytest
import yaml
from django.test import Client
from drf_spectacular.validation import validate_schema


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_it_serves_a_valid_openapi_3_document(schema):
    assert re.fullmatch(r"3\.\d+\.\d+", schema["openapi"])
    assert schema["info"]["title"] == "OpenRefusal API"
    assert "Idempotency-Key" in schema["info"]["description"]
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema


@pytest.mark.django_db
def test_it_serves_json_too():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_it_documents_the_token_endpoints(schema):
    paths = schema["paths"]
    listing = paths["/api/v1/me/tokens/"]
    assert listing["get"]["summary"] == "List your API tokens"
    assert listing["post"]["summary"] == "Create an API token"
    assert "once" in listing["post"]["description"]
    assert paths["/api/v1/me/tokens/{id}/"]["delete"]["summary"] == "Revoke an API token"
    assert "post" in paths["/api/v1/me/tokens/{id}/revoke/"]
    created = listing["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/ApiTokenCreated")
    assert "token" in schema["components"]["schemas"]["ApiTokenCreated"]["properties"]


def test_every_operation_has_a_summary_or_description(schema):
    for route, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") or operation.get("description"), (method, route)


def test_every_post_documents_the_idempotency_key_and_error_format(schema):
    assert "ErrorResponse" in schema["components"]["schemas"]
    posts = [ops["post"] for ops in schema["paths"].values() if "post" in ops]
    assert posts
    for operation in posts:
        names = [p["name"] for p in operation.get("parameters", [])]
        assert "Idempotency-Key" in names
        for status in ("400", "401", "409", "422", "429"):
            assert status in operation["responses"], (operation["operationId"], status)


def test_it_documents_token_authentication(schema):
    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}


@pytest.mark.django_db
def test_the_docs_page_works_under_the_strict_csp():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    # Every script is a file from this site; there is no inline script or style.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert "style=" not in html
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert len(sources) == 3
    for src in sources:
        assert src.startswith("/"), src
        script = Client().get(src.replace("&amp;", "&"))
        assert script.status_code == 200, src
    init = Client().get("/api/docs/?script=")
    assert init["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in init.content


@pytest.mark.django_db
def test_redoc_is_not_offered():
    # ReDoc needs inline styles and remote fonts, which the CSP refuses.
    assert Client().get("/api/redoc/").status_code == 404


@pytest.mark.django_db
def test_the_api_root_lists_the_resources():
    response = Client().get("/api/v1/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "me/tokens" in response.json()
