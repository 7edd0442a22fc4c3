"""Contract tests: every GET endpoint of the live OpenAPI schema, called anonymously and with a
regulator's token on the demo data, answers without a 5xx, and every JSON answer with a
documented schema validates against it (jsonschema). This walks the schema itself, reading
every detail once with an id a list showed; tests/api/test_schemathesis.py fuzzes the same
schema with schemathesis against a live server."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from django.test import Client
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from governance.management.commands.seed_demo import seed
from governance.models import User
from governance.services.tokens import api_token_create

pytestmark = pytest.mark.django_db

# Streams and files, not JSON documents (they are tested where they are made).
NOT_JSON = re.compile(r"/export/$|/export\.|/samples\.csv")
PARAM = re.compile(r"\{([^}]+)\}")
ORGANIZATIONS = "/api/v1/organizations/"
# Path parameters named after another list's field: (list path, field).
ALIASES = {"organization_slug": (ORGANIZATIONS, "slug"), "slug": (ORGANIZATIONS, "slug")}
# Lists that need a filter to answer: the query, from what earlier lists showed.
QUERIES = {
    "/api/v1/comments/": lambda samples: {"period": samples[("/api/v1/comment-periods/", "id")]}
}


def to_json_schema(node):
    """OpenAPI 3.0's dialect into JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture
def demo():
    seed()
    return User.objects.get(email="analyst@regulator.test")


@pytest.fixture
def schema():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def validator_for(schema, response_schema):
    components = to_json_schema(schema["components"])
    root = {"components": components}
    registry = Registry().with_resource("urn:api", Resource(root, specification=DRAFT202012))
    fixed = json.loads(
        json.dumps(to_json_schema(response_schema)).replace('"#/components', '"urn:api#/components')
    )
    return jsonschema.Draft202012Validator(fixed, registry=registry)


def json_schema_of(operation, status):
    content = operation.get("responses", {}).get(str(status), {}).get("content", {})
    return (content.get("application/json") or {}).get("schema")


def fill(path, samples):
    """A concrete URL for a templated path, from ids seen in list answers; None if unknown."""
    values = {}
    for name in PARAM.findall(path):
        prefix = path.split("{" + name + "}")[0]
        value = samples.get((prefix, name))
        if value is None and name in ALIASES:
            value = samples.get(ALIASES[name])
        if value is None:
            return None
        values[name] = value
    return PARAM.sub(lambda m: str(values[m[1]]), path)


def collect_samples(path, body, samples):
    results = body.get("results") if isinstance(body, dict) else None
    if not results or not isinstance(results[0], dict):
        return
    first = results[0]
    for name in ("id", "seq", "slug"):
        if name in first:
            samples[(path, name)] = first[name]
            samples[(path, "pk")] = first.get("id", first[name])


@pytest.mark.parametrize("persona", ["anonymous", "regulator-token", "moderator-session"])
def test_every_get_endpoint_keeps_its_contract(demo, schema, persona):
    client = Client()
    as_regulator = persona == "regulator-token"
    if as_regulator:
        _, raw = api_token_create(
            user=demo,
            name="contract",
            scopes=["read:public", "read:embargoed", "write:webhooks"],
        )
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    elif persona == "moderator-session":
        client.force_login(User.objects.get(email="moderator@openrefusal.test"))
    samples: dict = {}
    checked, failures = [], []
    # Lists before details, so details can use the ids lists show.
    paths = sorted(schema["paths"], key=lambda p: (p.count("{"), p))
    for path in paths:
        operation = schema["paths"][path].get("get")
        if operation is None or NOT_JSON.search(path):
            continue
        url = fill(path, samples) if "{" in path else path
        if url is None:
            continue
        query = QUERIES[path](samples) if path in QUERIES else {}
        response = client.get(url, query, HTTP_ACCEPT="application/json")
        checked.append((url, response.status_code))
        if response.status_code >= 500:
            failures.append(f"{url}: {response.status_code}")
            continue
        if not response.get("Content-Type", "").startswith("application/json"):
            continue
        body = response.json()
        if response.status_code == 200:
            collect_samples(path, body, samples)
        response_schema = json_schema_of(operation, response.status_code)
        if response_schema is None:
            continue
        errors = sorted(validator_for(schema, response_schema).iter_errors(body), key=str)
        if errors:
            error = errors[0]
            failures.append(
                f"{url} ({response.status_code}) at {error.json_path}: "
                f"{error.validator} {error.validator_value!r:.200} — {error.message[-200:]}"
            )
    assert not failures, "\n".join(failures)
    # The walk reached the regulators' endpoints and many details, not only lists.
    urls = {url for url, _ in checked}
    assert {"/api/v1/changes/", "/api/v1/dumps/", "/api/v1/ledger/"} <= urls
    assert sum(1 for url in urls if re.search(r"/\d+/$", url)) >= 10
    assert any(re.fullmatch(r"/api/v1/comments/\d+/", url) for url in urls)
    if as_regulator:  # the demo regulator's webhook, with its deliveries
        assert any(re.fullmatch(r"/api/v1/webhooks/\d+/deliveries/", url) for url in urls)
