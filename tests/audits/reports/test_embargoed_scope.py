"""The `read:embargoed` token scope: who may mint it, and what a token sees with and without it.
Sessions keep their role-based access."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from governance.errors import NotAllowed
from governance.models import ApiToken
from governance.services.tokens import api_token_create, scopes_for

pytestmark = pytest.mark.django_db

EMBARGOED = ApiToken.Scope.READ_EMBARGOED.value


def bearer(user, scopes) -> APIClient:
    _, raw = api_token_create(user=user, name=" ".join(scopes), scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def report_ids(client) -> set[int]:
    response = client.get(reverse("audit-report-list"))
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def finding_ids(client) -> set[int]:
    response = client.get(reverse("finding-list"))
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("persona", ["citizen", "company_editor", "outsider", "panelist"])
def test_people_outside_regulators_and_accredited_auditors_cannot_mint_it(request, persona):
    user = request.getfixturevalue(persona)
    assert EMBARGOED not in scopes_for(user)
    with pytest.raises(NotAllowed) as caught:
        api_token_create(user=user, name="t", scopes=["read:public", EMBARGOED])
    assert "scopes" in caught.value.fields
    assert not ApiToken.objects.filter(user=user).exists()


@pytest.mark.parametrize("persona", ["regulator", "auditor"])
def test_regulators_and_accredited_auditors_can_mint_it(request, persona):
    user = request.getfixturevalue(persona)
    assert EMBARGOED in scopes_for(user)
    token, _ = api_token_create(user=user, name="t", scopes=[EMBARGOED])
    assert token.scopes == [EMBARGOED]


def test_an_auditor_whose_accreditation_lapsed_cannot(auditor, auditor_org):
    from django.utils import timezone

    auditor_org.accreditation_expires_at = timezone.now()
    auditor_org.save(update_fields=["accreditation_expires_at"])
    assert EMBARGOED not in scopes_for(auditor)


def test_the_api_refuses_the_scope_to_a_citizen_with_a_field_error(api_for, citizen):
    response = api_for(citizen).post(
        reverse("token-list"), {"name": "x", "scopes": [EMBARGOED]}, format="json"
    )
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["code"] == "scope_not_allowed"
    assert not ApiToken.objects.filter(user=citizen).exists()


def test_the_api_mints_it_for_a_regulator(api_for, regulator):
    response = api_for(regulator).post(
        reverse("token-list"), {"name": "x", "scopes": ["read:public", EMBARGOED]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["scopes"] == ["read:public", EMBARGOED]


def test_the_token_page_offers_it_only_to_those_who_may(client_for, citizen, regulator):
    url = reverse("tokens:create")
    assert EMBARGOED not in client_for(citizen).get(url).content.decode()
    assert EMBARGOED in client_for(regulator).get(url).content.decode()
    # A hand-made POST from a citizen is refused inline, and nothing is created.
    response = client_for(citizen).post(url, {"name": "x", "scopes": [EMBARGOED]})
    assert response.status_code == 200
    assert not ApiToken.objects.filter(user=citizen).exists()


def test_a_regulator_token_sees_embargoed_reports_only_with_the_scope(
    regulator, embargoed_report, finding, api_for
):
    without = bearer(regulator, ["read:public"])
    assert embargoed_report.pk not in report_ids(without)
    assert finding.pk not in finding_ids(without)
    detail = reverse("audit-report-detail", args=[embargoed_report.pk])
    assert without.get(detail).status_code == 404

    with_scope = bearer(regulator, ["read:public", EMBARGOED])
    assert embargoed_report.pk in report_ids(with_scope)
    assert finding.pk in finding_ids(with_scope)
    assert with_scope.get(detail).status_code == 200

    # The regulator's signed-in session keeps its role-based access.
    assert embargoed_report.pk in report_ids(api_for(regulator))


def test_anonymous_and_citizens_never_see_them(citizen, embargoed_report, api_for):
    assert embargoed_report.pk not in report_ids(api_for())
    assert embargoed_report.pk not in report_ids(api_for(citizen))


def test_the_parties_write_audits_token_keeps_their_own_reports(
    company_editor, auditor, embargoed_report
):
    # The audited company answers through `write:audits` without being able to mint
    # read:embargoed; a read-only token of theirs sees published reports only.
    assert embargoed_report.pk in report_ids(
        bearer(company_editor, ["read:public", "write:audits"])
    )
    assert embargoed_report.pk not in report_ids(bearer(company_editor, ["read:public"]))
    assert embargoed_report.pk in report_ids(bearer(auditor, ["read:public", EMBARGOED]))
    assert embargoed_report.pk not in report_ids(bearer(auditor, ["read:public"]))


def test_the_etag_of_a_regulators_view_differs_from_the_publics(regulator, embargoed_report):
    url = reverse("audit-report-list")
    public = APIClient().get(url)
    regulators = bearer(regulator, ["read:public", EMBARGOED])
    theirs = regulators.get(url)
    assert public["ETag"] != theirs["ETag"]
    assert "private" in theirs["Cache-Control"]
    assert "authorization" in theirs["Vary"].lower()
    # The regulator's tag does not unlock a 304 for the public (they get their own body).
    anonymous = APIClient().get(url, HTTP_IF_NONE_MATCH=theirs["ETag"])
    assert anonymous.status_code == 200
    assert embargoed_report.pk not in {r["id"] for r in anonymous.json()["results"]}
    assert regulators.get(url, HTTP_IF_NONE_MATCH=theirs["ETag"]).status_code == 304
