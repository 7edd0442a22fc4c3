"""What schemathesis (tests/api/test_schemathesis.py) found, each pinned by a focused test: the
code or the schema was wrong, and each stays fixed here even if the fuzzer's seed changes."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.test_contract import validator_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def documented(schema, path, method) -> dict:
    return schema["paths"][path][method]["responses"]


@pytest.mark.parametrize(
    "path", ["/api/v1/policies/", "/api/v1/organizations/", "/api/v1/systems/", "/api/v1/dumps/"]
)
def test_a_mangled_cursor_is_bad_input_on_every_list(api_for, company, path):
    # DRF's own pagination answered 404 "Invalid cursor", which no list documents.
    response = api_for().get(path, {"cursor": "K"})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "cursor" in error["fields"]


def test_an_organization_without_a_website_keeps_the_contract(api_for, schema, company):
    company.website = ""
    company.save(update_fields=["website"])
    response = api_for().get(f"/api/v1/organizations/{company.slug}/")
    assert response.status_code == 200
    assert response.json()["website"] == ""
    operation = schema["paths"]["/api/v1/organizations/{slug}/"]["get"]
    response_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    # The schema said `format: uri`, which "" is not.
    assert not list(validator_for(schema, response_schema).iter_errors(response.json()))


def test_a_period_that_is_not_there_is_a_documented_404(api_for, schema):
    response = api_for().get("/api/v1/comments/", {"period": 0})
    assert response.status_code == 404
    assert "404" in documented(schema, "/api/v1/comments/", "get")


def test_an_unknown_invitation_token_is_a_documented_404(api_for, schema, citizen):
    response = api_for(citizen).post(
        "/api/v1/invitations/accept/", {"token": "nope"}, format="json"
    )
    assert response.status_code == 404
    assert "404" in documented(schema, "/api/v1/invitations/accept/", "post")


def test_state_conflicts_on_changes_are_documented(api_for, schema, company, company_owner):
    # The last owner cannot be demoted nor leave (409 `last_owner`); revoking a token twice is
    # 409 `already_revoked`: every PATCH, PUT and DELETE documents 409.
    membership = company.memberships.get(user=company_owner)
    url = f"/api/v1/organizations/{company.slug}/memberships/{membership.pk}/"
    client = api_for(company_owner)
    assert client.patch(url, {"role": "member"}, format="json").status_code == 409
    assert client.delete(url).status_code == 409
    for item in schema["paths"].values():
        for method in ("put", "patch", "delete"):
            if method in item:
                assert "409" in item[method]["responses"], item[method]["operationId"]


def test_a_nul_byte_in_a_slug_field_is_bad_input_not_a_server_error(
    api_for, company, company_editor
):
    # A slug with NUL reached PostgreSQL in the related-field lookup (a 500).
    from governance.models import AISystem

    system = AISystem.objects.create(organization=company, name="Sys", slug="sys")
    response = api_for(company_editor).post(
        "/api/v1/evaluation-runs/",
        {
            "organization": "acme\x00",
            "system": system.pk,
            "system_version": "1",
            "benchmark": "b",
            "source": "self_reported",
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]["organization"] == ["This contains a NUL character."]
    response = api_for(company_editor).post(
        "/api/v1/policies/", {"organization": "\x00", "title": "T"}, format="json"
    )
    assert response.status_code == 400
    assert "organization" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/recommendations/", "/api/v1/comments/", "/api/v1/evaluation-runs/"],
)
def test_a_nul_byte_in_a_query_parameter_is_a_400_naming_it(path):
    response = Client().get(path, {"clause": "a\x00b", "period": "1"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["clause"]


@pytest.mark.parametrize(
    "path", ["/appeals/decisions/", "/appeals/recommendations/", "/appeals/clauses/"]
)
def test_a_nul_byte_in_an_appeals_page_address_is_dropped_not_a_server_error(path):
    # The public decisions list answered 500 for `?clause=%00` (the other pages explain it
    # inline on their filter forms: tests/governance/test_ledger.py and the docket's tests).
    response = Client().get(
        path, {"clause": "\x00", "company": "a\x00", "q": "\x00", "source": "\x00"}
    )
    assert response.status_code == 200
