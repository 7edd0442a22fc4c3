"""Contract tests for the write endpoints, walked from the live OpenAPI schema: every POST,
PUT, PATCH and DELETE refuses a token without the scope it needs (403 `insufficient_scope`,
before touching anything); every collection POST that takes a body answers a malformed one
with 400 in the error format; and valid calls with the right scope succeed with an answer
that validates against the documented schema. (tests/api/test_schemathesis.py sends generated
bodies to every write with schemathesis; tests/api/test_permission_matrix.py says who may.)"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import resolve

from governance.api_auth import required_scope
from governance.models import LedgerEntry
from governance.services.tokens import api_token_create
from tests.api.test_contract import json_schema_of, validator_for

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch", "delete")
PARAM = re.compile(r"\{([^}]+)\}")


@pytest.fixture
def schema():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def write_operations(schema):
    for path, item in sorted(schema["paths"].items()):
        for method in WRITES:
            if method in item:
                yield path, method, item[method]


def concrete(path: str, operation: dict | None = None) -> str:
    # Ids that exist or not: a scope is checked before any object is looked up. A parameter
    # with an enum (an appeal's action name) takes its first value, so the URL resolves.
    enums = {
        p["name"]: p["schema"]["enum"]
        for p in (operation or {}).get("parameters", [])
        if p.get("in") == "path" and "enum" in p.get("schema", {})
    }

    def value(m: re.Match) -> str:
        if m[1] in enums:
            return str(enums[m[1]][0])
        return "acme-ai" if "slug" in m[1] else "1"

    return PARAM.sub(value, path)


def scope_needed(url: str, method: str) -> str | None:
    match = resolve(url)
    view = match.func.cls(**getattr(match.func, "initkwargs", {}))
    view.action = (getattr(match.func, "actions", None) or {}).get(method)
    return required_scope(view, method.upper())


def bearer(user, scopes) -> Client:
    _, raw = api_token_create(user=user, name="+".join(scopes), scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def assert_error_format(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def test_every_write_refuses_a_token_without_its_scope(schema, citizen):
    client = bearer(citizen, ["read:public"])
    before = LedgerEntry.objects.count()
    checked = []
    for path, method, operation in write_operations(schema):
        url = concrete(path, operation)
        scope = scope_needed(url, method)
        if scope in (None, "read:public"):
            continue  # nothing a read-only token lacks
        response = getattr(client, method)(url, "{}", content_type="application/json")
        error = assert_error_format(response, 403)
        assert error["code"] == "insufficient_scope", (method, url, error)
        assert scope in error["message"]
        checked.append((method, path))
    assert len(checked) >= 40  # the walk reached the write endpoints of every app
    assert {m for m, _ in checked} >= {"post", "patch", "delete"}
    assert LedgerEntry.objects.count() == before  # refused before touching anything


def test_every_collection_post_answers_a_malformed_body_with_400(schema, staff):
    client = Client()
    client.force_login(staff)
    checked = []
    for path, method, operation in write_operations(schema):
        if method != "post" or "{" in path or "requestBody" not in operation:
            continue
        content = operation["requestBody"].get("content", {})
        if "application/json" not in content:
            continue
        response = client.post(path, '{"not json', content_type="application/json")
        error = assert_error_format(response, 400)
        assert error["code"] in {"parse_error", "invalid"}, (path, error)
        checked.append(path)
    assert len(checked) >= 8


def _validate(schema, path, method, response):
    operation = schema["paths"][path][method]
    response_schema = json_schema_of(operation, response.status_code)
    assert response_schema is not None, (path, method, response.status_code)
    validator = validator_for(schema, response_schema)
    errors = [(list(e.path), e.message) for e in validator.iter_errors(response.json())]
    assert not errors, (path, method, errors)


def test_valid_writes_with_the_right_scope_succeed_and_keep_the_contract(
    schema, citizen, regulator
):
    account = bearer(citizen, ["read:public", "write:account"])
    created = account.post(
        "/api/v1/organizations/",
        {"name": "Civic Audit", "kind": "auditor", "website": "https://civic.example"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    _validate(schema, "/api/v1/organizations/", "post", created)

    edited = account.patch(
        "/api/v1/organizations/civic-audit/",
        {"description": "Independent refusal audits."},
        content_type="application/json",
    )
    assert edited.status_code == 200, edited.content
    _validate(schema, "/api/v1/organizations/{slug}/", "patch", edited)

    token = account.post(
        "/api/v1/me/tokens/",
        {"name": "nightly", "scopes": ["read:public"], "expires_in_days": 30},
        content_type="application/json",
    )
    assert token.status_code == 201, token.content
    _validate(schema, "/api/v1/me/tokens/", "post", token)
    revoked = account.post(f"/api/v1/me/tokens/{token.json()['id']}/revoke/")
    assert revoked.status_code == 200, revoked.content
    _validate(schema, "/api/v1/me/tokens/{id}/revoke/", "post", revoked)

    hooks = bearer(regulator, ["read:public", "write:webhooks"])
    hook = hooks.post(
        "/api/v1/webhooks/",
        {"target_url": "http://127.0.0.1:9/h", "event_types": ["policy_version.published"]},
        content_type="application/json",
    )
    assert hook.status_code == 201, hook.content
    _validate(schema, "/api/v1/webhooks/", "post", hook)
    ping = hooks.post(f"/api/v1/webhooks/{hook.json()['id']}/ping/")
    assert ping.status_code == 202, ping.content
    _validate(schema, "/api/v1/webhooks/{id}/ping/", "post", ping)
    gone = hooks.delete(f"/api/v1/webhooks/{hook.json()['id']}/")
    assert gone.status_code == 204
