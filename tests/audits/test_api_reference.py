"""The evidence and robustness endpoints that answer only to a query (the GET contract test calls
them bare and sees their 400s): on the demo data, each answer validates against the schema the
API reference gives it, for the public and for a reader of withheld texts. `clause-evidence/
samples/` answered a page object where the reference said an array of samples."""

from __future__ import annotations

import pytest
from django.test import Client

from audits.drift_models import DriftAlert
from audits.models import EvaluationRun
from governance.management.commands.seed_demo import seed
from governance.models import AISystem, User
from policies.models import PolicyVersion
from tests.api.test_contract import json_schema_of, validator_for

pytestmark = pytest.mark.django_db

CLAUSE = "weapons.conventional.manufacture"


@pytest.fixture
def demo():
    seed()
    house = EvaluationRun.objects.get(benchmark="Acme house refusals", benchmark_version="4")
    earlier, later = EvaluationRun.objects.filter(benchmark="Acme jailbreak suite").order_by(
        "system_version"
    )
    version = PolicyVersion.objects.get(
        policy__organization__slug="acme-ai",
        policy__slug="usage-policy",
        status=PolicyVersion.Status.PUBLISHED,
    )
    return {
        "house": house,
        "earlier": earlier,
        "later": later,
        "version": version,
        "older": PolicyVersion.objects.get(policy=version.policy, major=1, minor=1, patch=0),
        "system": AISystem.objects.get(slug="acme-assistant"),
        "alert": DriftAlert.objects.filter(clause_key=CLAUSE).first(),
    }


def queries(d) -> list[tuple[str, dict]]:
    """(path as the schema names it, query); `{id}` is filled from the query's `id`."""
    policy, version = d["version"].policy_id, d["version"].pk
    clause = {"policy": policy, "key": CLAUSE}
    return [
        ("/api/v1/evaluation-runs/{id}/conformance/", {"id": d["house"].pk, "version": version}),
        ("/api/v1/evaluation-runs/compare/", {"a": d["earlier"].pk, "b": d["later"].pk}),
        (
            "/api/v1/category-mappings/suggestions/",
            {"version": d["older"].pk, "run": d["house"].pk},
        ),
        ("/api/v1/clause-evidence/", clause),
        ("/api/v1/clause-evidence/samples/", clause),
        ("/api/v1/clause-evidence/samples/", {**clause, "run": d["later"].pk}),
        ("/api/v1/conformance-matrix/", {"version": version, "by": "system_version"}),
        ("/api/v1/robustness/", {"run": d["later"].pk}),
        ("/api/v1/robustness/", {"run": d["house"].pk, "version": version}),
        ("/api/v1/robustness/framings/", {"run": d["later"].pk}),
        ("/api/v1/robustness/flips/", {"run": d["later"].pk, "limit": 3}),
        ("/api/v1/tradeoff/", {"system": d["system"].pk}),
        ("/api/v1/tradeoff/", {"system": d["system"].pk, "family": "weapons", "version": version}),
        ("/api/v1/drift-alerts/{id}/", {"id": d["alert"].pk}),
    ]


@pytest.mark.parametrize("persona", ["anonymous", "regulator"])
def test_answers_to_queries_validate_against_the_reference(demo, persona):
    client = Client()
    if persona == "regulator":
        client.force_login(User.objects.get(email="analyst@regulator.test"))
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    failures, prompts = [], set()
    for template, query in queries(demo):
        query = dict(query)
        path = template.replace("{id}", str(query.pop("id", "")))
        response = client.get(path, query, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, (path, query, response.content[:300])
        documented = json_schema_of(schema["paths"][template]["get"], 200)
        assert documented is not None, template
        body = response.json()
        errors = list(validator_for(schema, documented).iter_errors(body))
        if errors:
            failures.append(f"{path} {query}: {errors[0].json_path}: {errors[0].message[:200]}")
        if path.endswith("/samples/") and query.get("run"):
            assert body["results"], "the jailbreak suite's samples behind the clause"
            prompts |= {sample["prompt"] is None for sample in body["results"]}
    assert not failures, "\n".join(failures)
    # The jailbreak suite withholds its prompts: hidden from the public, shown to a regulator.
    assert prompts == {persona == "anonymous"}
