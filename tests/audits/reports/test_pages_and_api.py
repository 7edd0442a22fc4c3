"""Audit report pages and API per role: who reads which state, the auditor's and the company's
writes, and bad input answered with field errors (400), never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audits.models import AuditReport, Finding

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "embargoed_status"),
    [("anonymous", 404), ("citizen", 404), ("auditor", 200), ("company_member", 200),
     ("regulator", 200), ("outsider", 404)],
)  # fmt: skip
def test_report_pages_per_role(
    request, client_for, who, embargoed_status, embargoed_report, finding
):
    client = client_for(None if who == "anonymous" else request.getfixturevalue(who))
    assert client.get(reverse("reports:list")).status_code == 200
    page = client.get(reverse("reports:detail", args=[embargoed_report.pk]))
    assert page.status_code == embargoed_status
    assert client.get(reverse("reports:finding", args=[finding.pk])).status_code == (
        embargoed_status
    )
    assert client.get(reverse("reports:scorecards")).status_code == 200
    assert client.get(reverse("reports:scorecard", args=["acme-ai"])).status_code == 200


def test_a_published_report_is_public_with_its_response(client_for, published_report, finding):
    page = client_for(None).get(reverse("reports:detail", args=[published_report.pk]))
    assert page.status_code == 200
    assert "We accept the finding." in page.content.decode()
    card = client_for(None).get(reverse("reports:scorecard", args=["acme-ai"]))
    assert "<svg" in card.content.decode()
    assert "Critical: 1" in card.content.decode()


def test_the_auditor_files_a_finding_and_bad_input_stays_inline(
    client_for, auditor, draft_report, published_version
):
    client = client_for(auditor)
    assert client.get(reverse("reports:detail", args=[draft_report.pk])).status_code == 200
    url = reverse("reports:finding-create", args=[draft_report.pk])
    data = {
        "title": "Over-refuses cooking",
        "version": published_version.pk,
        "clause_key": "no.such.clause",
        "severity": "low",
        "criterion": "c",
        "observed": "o",
        "recommendation": "r",
        "target_date": "2099-01-01",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert "has no clause" in response.content.decode()
    response = client.post(url, data | {"clause_key": "harmless.cooking"})
    assert response.status_code == 302
    assert Finding.objects.filter(report=draft_report, clause_key="harmless.cooking").exists()
    response = client.post(reverse("reports:submit", args=[draft_report.pk]), {})
    assert response.status_code == 400
    assert "Declare that your organization" in response.content.decode()


def test_the_company_responds_in_the_browser(client_for, company_editor, embargoed_report):
    client = client_for(company_editor)
    response = client.post(
        reverse("reports:respond", args=[embargoed_report.pk]), {"body": "Our answer."}
    )
    assert response.status_code == 302
    embargoed_report.refresh_from_db()
    assert embargoed_report.company_response == "Our answer."


def test_the_api_lists_embargoed_reports_for_regulators_only(
    api_for, regulator, citizen, embargoed_report
):
    url = reverse("audit-report-list")
    ids = [r["id"] for r in api_for(regulator).get(url).json()["results"]]
    assert embargoed_report.pk in ids
    assert api_for(citizen).get(url).json()["results"] == []
    response = api_for(regulator).post(
        reverse("audit-report-respond", args=[embargoed_report.pk]), {"body": "x"}, format="json"
    )
    assert response.status_code == 403


def test_the_api_files_a_report_with_field_errors_for_bad_input(
    api_for, auditor, company, published_version, run
):
    client = api_for(auditor)
    url = reverse("audit-report-list")
    body = {
        "auditor": "independent-audit",
        "audited": company.slug,
        "title": "API audit",
        "versions": [published_version.pk],
        "runs": [run.pk],
        "period_start": "2026-01-01",
        "period_end": "2025-01-01",
        "methodology": "m",
        "summary": "s",
        "opinion": "negative",
    }
    response = client.post(url, body, format="json")
    assert response.status_code == 400
    assert "period_end" in response.json()["error"]["fields"]
    response = client.post(url, body | {"period_end": "2026-06-30"}, format="json")
    assert response.status_code == 201, response.content
    report = AuditReport.objects.get(pk=response.json()["id"])
    response = client.post(
        reverse("finding-list"),
        {"report": report.pk, "title": "t", "version": published_version.pk,
         "clause": "weapons.bio.synthesis", "severity": "high", "criterion": "c",
         "observed": "o", "recommendation": "r", "target_date": "2099-01-01",
         "runs": [run.pk], "sample_ids": ["s1"]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["conformance"]["n"] == 30
    response = client.post(
        reverse("audit-report-submit", args=[report.pk]),
        {"declares_no_non_audit_work": True, "declares_no_contingent_fee": True,
         "relationships_disclosed": "None."},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"


def test_the_api_refuses_an_unaccredited_auditor(
    api_for, citizen, auditor_org, company, published_version
):
    response = api_for(citizen).post(
        reverse("audit-report-list"),
        {"auditor": "independent-audit", "audited": company.slug, "title": "t",
         "versions": [published_version.pk], "period_start": "2026-01-01",
         "period_end": "2026-02-01", "methodology": "m", "summary": "s", "opinion": "positive"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_accredited"
    assert not AuditReport.objects.exists()
