"""Schemathesis against the live OpenAPI schema, on the demo data, served by a live server.

Every GET operation is called anonymously and with a regulator's token (read:public +
read:embargoed); every write operation with a token holding every scope of a person who may
write (the Acme owner, and the platform administrator). Each operation runs the explicit
examples written in the schema, then a few generated requests (valid and invalid ones), and
must answer without a 5xx, with a status code the schema documents for it, and with a body that
validates against the schema of that status.

Deterministic: a fixed seed, derandomized Hypothesis, no example database. Path parameters are
real ids of the demo (read from the lists the personas can see) or generated ones (mostly 404).
The status code check stays on: every undocumented status it reported was a real gap (DRF's
404 for a mangled cursor, 409s and 404s the descriptions named but the responses did not), and
none was a false positive. Each is pinned by tests/api/test_contract_findings.py (endorsing, by
tests/policies/comments/test_api.py).
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.test import Client

from governance.management.commands.seed_demo import seed
from governance.models import User
from governance.services.tokens import api_token_create, scopes_for
from tests.api.test_contract import PARAM, QUERIES, collect_samples, fill

# One test walks all 139 operations (1.5 to 3 minutes on two busy cores): more than the
# suite's 300 s per test would leave as margin on a slow CI machine.
# Transactional like the other live-server tests, with the serialized rollback they rely on:
# without it this test's final flush re-creates the content types the next one restores.
pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SEED = 8104
# Generated requests per operation, on top of the schema's explicit examples; the whole module
# stays under a few minutes on a small CI machine.
EXAMPLES = 4
REGULATOR = "analyst@regulator.test"
WRITERS = ["owner@acme-ai.test", "admin@openrefusal.test"]
CHECKS = ["not_a_server_error", "status_code_conformance", "response_schema_conformance"]


@pytest.fixture
def demo(unthrottled):
    # A data migration makes the group; the live server's flush between tests removes it.
    Group.objects.get_or_create(name="moderators")
    seed()


def bearer(email: str, scopes: list[str], name: str = "schemathesis") -> str:
    _, raw = api_token_create(user=User.objects.get(email=email), name=name, scopes=scopes)
    return f"Bearer {raw}"


def known_ids(schema: dict, authorization: str | None) -> dict[str, dict]:
    """{path template: {parameter: a real value}} from what the lists show to this persona."""
    client = Client(HTTP_AUTHORIZATION=authorization) if authorization else Client()
    samples: dict = {}
    # Lists before details, so details (and their sub-lists) can use the ids lists show.
    for path in sorted(schema["paths"], key=lambda p: (p.count("{"), p)):
        url = fill(path, samples) if "{" in path else path
        if "get" not in schema["paths"][path] or url is None:
            continue
        query = QUERIES[path](samples) if path in QUERIES else {}
        response = client.get(url, query, HTTP_ACCEPT="application/json")
        if response.status_code == 200 and response["Content-Type"].startswith("application/json"):
            collect_samples(path, response.json(), samples)
    found = {}
    for path in schema["paths"]:
        url = fill(path, samples) if "{" in path else None
        if url is not None:
            names = PARAM.findall(path)
            values = [
                v for v, p in zip(url.split("/"), path.split("/"), strict=True) if p[:1] == "{"
            ]
            found[path] = dict(zip(names, values, strict=True))
    return found


@pytest.fixture
def personas(demo) -> dict[str, list[tuple[str, str | None]]]:
    """(who, Authorization header) by kind of request: reads anonymously and as the regulator,
    writes as the Acme owner and as the administrator (each with every scope they may hold)."""
    return {
        "read": [
            ("anonymous", None),
            ("regulator token", bearer(REGULATOR, ["read:public", "read:embargoed"])),
        ],
        "write": [
            (f"{email} token", bearer(email, scopes_for(User.objects.get(email=email))))
            for email in WRITERS
        ],
    }


@pytest.fixture
def live_api(live_server, personas):
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": live_server.url,
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            # Coverage would send dozens of boundary cases per operation: minutes, not seconds.
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", config=config
    )
    ids: dict[str, dict] = {}
    for _, authorization in personas["read"][1:] + personas["write"]:
        for path, values in known_ids(schema.raw_schema, authorization).items():
            ids.setdefault(path, values)
    # Not the token the writer is calling with: revoking or deleting it would turn the rest of
    # the run into 401s.
    spare, _ = api_token_create(
        user=User.objects.get(email=WRITERS[0]), name="spare", scopes=["read:public"]
    )
    for path in ids:
        if path.startswith("/api/v1/me/tokens/{id}/"):
            ids[path] = {"id": spare.pk}

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        real = ids.get(context.operation.path)
        if not real:
            return st.just(path_parameters)
        return st.sampled_from([{**path_parameters, **real}, path_parameters])

    return schema


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.32's `from_fixture` reads and rewrites `Node._nodeid`, which pytest 9.2
    no longer has (the id is `Node.nodeid`): give it the attribute it reads. Its per-operation
    rename is then cosmetic only; each operation is still reported as a subtest."""
    request.node._nodeid = request.node.nodeid


api = schemathesis.pytest.from_fixture("live_api")


@api.parametrize()
def test_every_operation_keeps_its_contract(case, personas):
    for who, authorization in personas["read" if case.method == "GET" else "write"]:
        try:
            case.call_and_validate(
                headers={"Authorization": authorization} if authorization else {}
            )
        except BaseExceptionGroup as failures:
            failures.add_note(f"Requested as: {who}")
            raise
