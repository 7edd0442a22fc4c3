"""Repeats and bad input on audit report writes: an `Idempotency-Key` replays the first answer
and writes nothing twice (a form token does the same in the browser); oversized, non-PDF,
malformed, hostile and wrong-state requests get 400/409 with field errors from the API and an
inline message in the browser — never a 500, and nothing changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audits import report_services as reports
from audits.models import AuditReport, Finding, FindingEvent, ReportAttachment
from governance.idempotency import FORM_TOKEN_FIELD
from governance.models import LedgerEntry
from governance.services.tokens import api_token_create
from tests.audits.reports.conftest import DECLARATION, PDF

pytestmark = pytest.mark.django_db


def tooling(user, *extra: str) -> APIClient:
    """The auditor's (or company's) own tooling: a bearer token with the audits scope."""
    _token, raw = api_token_create(
        user=user, name=f"Tooling of {user.pk}", scopes=["read:public", "write:audits", *extra]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def report_body(company, published_version, run):
    return {
        "auditor": "independent-audit",
        "audited": company.slug,
        "title": "Tooling audit",
        "versions": [published_version.pk],
        "runs": [run.pk],
        "period_start": "2026-01-01",
        "period_end": "2026-06-30",
        "methodology": "m",
        "summary": "s",
        "opinion": "negative",
    }


def finding_body(report, version, **extra) -> dict:
    return {
        "report": report.pk, "title": "t", "version": version.pk,
        "clause": "weapons.bio.synthesis", "severity": "high", "criterion": "c",
        "observed": "o", "recommendation": "r", "target_date": "2099-01-01",
    } | extra  # fmt: skip


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_a_repeated_report_post_replays_the_first_answer(auditor, report_body):
    client = tooling(auditor)
    url = reverse("audit-report-list")
    first = client.post(url, report_body, format="json", HTTP_IDEMPOTENCY_KEY="report-1")
    again = client.post(url, report_body, format="json", HTTP_IDEMPOTENCY_KEY="report-1")
    assert first.status_code == again.status_code == 201, first.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert AuditReport.objects.count() == 1
    other = client.post(
        url, report_body | {"title": "Another"}, format="json", HTTP_IDEMPOTENCY_KEY="report-1"
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert AuditReport.objects.count() == 1


def test_repeated_finding_submit_respond_and_answer_posts_happen_once(
    auditor, company_editor, draft_report, published_version
):
    auditor_api, company_api = tooling(auditor), tooling(company_editor)
    body = finding_body(draft_report, published_version)
    for _ in range(2):
        response = auditor_api.post(
            reverse("finding-list"), body, format="json", HTTP_IDEMPOTENCY_KEY="finding-1"
        )
        assert response.status_code == 201, response.content
    assert Finding.objects.filter(report=draft_report).count() == 1
    finding = Finding.objects.get(report=draft_report)

    submit = reverse("audit-report-submit", args=[draft_report.pk])
    answers = [
        auditor_api.post(submit, DECLARATION, format="json", HTTP_IDEMPOTENCY_KEY="submit-1")
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    # Without the key, the repeat is a second request and the report is no longer a draft.
    assert auditor_api.post(submit, DECLARATION, format="json").status_code == 409
    assert LedgerEntry.objects.filter(action="audit_report.submitted").count() == 1
    reports.report_notify(report_id=draft_report.pk)

    respond = reverse("audit-report-respond", args=[draft_report.pk])
    for _ in range(2):
        response = company_api.post(
            respond, {"body": "Noted."}, format="json", HTTP_IDEMPOTENCY_KEY="respond-1"
        )
        assert response.status_code == 200
    assert LedgerEntry.objects.filter(action="audit_report.company_responded").count() == 1

    acknowledge = reverse("finding-acknowledge", args=[finding.pk])
    for _ in range(2):
        response = company_api.post(
            acknowledge, {"note": "Seen."}, format="json", HTTP_IDEMPOTENCY_KEY="ack-1"
        )
        assert response.status_code == 200
        assert response.json()["status"] == "acknowledged"
    assert FindingEvent.objects.filter(finding=finding).count() == 1
    again = company_api.post(acknowledge, {"note": "Seen."}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "state"


def test_a_double_clicked_browser_form_adds_one_finding(
    client_for, auditor, draft_report, published_version
):
    client = client_for(auditor)
    data = {
        "title": "Once", "version": published_version.pk, "clause_key": "harmless.cooking",
        "severity": "low", "criterion": "c", "observed": "o", "recommendation": "r",
        "target_date": "2099-01-01", FORM_TOKEN_FIELD: "5b0c5a4e-3f55-4b8e-9d35-0f1f4a2b9c10",
    }  # fmt: skip
    url = reverse("reports:finding-create", args=[draft_report.pk])
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert Finding.objects.filter(report=draft_report).count() == 1


# --- Bad input: API ------------------------------------------------------------------------------


def test_malformed_json_is_a_400(auditor):
    response = tooling(auditor).post(
        reverse("audit-report-list"), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"]
    assert not AuditReport.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "x" * 201}, "title"),
        ({"title": "NUL \x00 inside"}, "title"),
        ({"title": ""}, "title"),
        ({"versions": ["abc"]}, "versions"),
        ({"versions": []}, "versions"),
        ({"versions": [999_999]}, "versions"),
        ({"runs": [{"id": 1}]}, "runs"),
        ({"period_start": "2026-13-45"}, "period_start"),
        ({"period_end": "2025-01-01"}, "period_end"),
        ({"period_start": "2999-01-01", "period_end": "2999-02-01"}, "period_start"),
        ({"opinion": "glowing"}, "opinion"),
        ({"embargo_days": "ninety"}, "embargo_days"),
        ({"embargo_days": 365}, "embargo_days"),
        ({"embargo_days": 1}, "embargo_days"),
        ({"audited": "no-such-company"}, "audited"),
        ({"audited": "independent-audit"}, "audited"),
        ({"methodology": ["a", "list"]}, "methodology"),
    ],
)
def test_bad_report_fields_get_field_errors(auditor, report_body, change, field):
    response = tooling(auditor).post(
        reverse("audit-report-list"), report_body | change, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not AuditReport.objects.exists()


def test_hostile_text_is_stored_as_text_and_escaped(auditor, client_for, report_body):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> ‮ 💥'
    response = tooling(auditor).post(
        reverse("audit-report-list"),
        report_body | {"title": hostile, "summary": hostile, "methodology": hostile},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["title"] == hostile.strip()
    page = client_for(auditor).get(reverse("reports:detail", args=[response.json()["id"]]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clause": "no.such.clause"}, "clause"),
        ({"clause": "weapons.bio.synthesis\x00"}, "clause"),
        ({"severity": "catastrophic"}, "severity"),
        ({"target_date": "2000-01-01"}, "target_date"),
        ({"version": 999_999}, "version"),
        ({"runs": [999_999]}, "runs"),
        ({"sample_ids": ["not-in-the-run"]}, "sample_ids"),
        ({"sample_ids": [f"s{n}" for n in range(201)]}, "sample_ids"),
        ({"report": "one"}, "report"),
    ],
)
def test_bad_finding_fields_get_field_errors(
    auditor, draft_report, published_version, run, change, field
):
    body = finding_body(draft_report, published_version, runs=[run.pk]) | change
    response = tooling(auditor).post(reverse("finding-list"), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Finding.objects.exists()


def test_attachments_must_be_pdfs_under_the_limit(auditor, draft_report):
    client = tooling(auditor)
    url = reverse("audit-report-attachments", args=[draft_report.pk])
    html = SimpleUploadedFile("annex.pdf", b"<html><body>not a pdf</body></html>")
    response = client.post(url, {"file": html}, format="multipart")
    assert response.status_code == 400
    assert "PDF" in response.json()["error"]["fields"]["file"][0]
    # 50 MB that starts like a PDF: refused by its size, and nothing is stored.
    huge = SimpleUploadedFile("huge.pdf", PDF + b"0" * (50 * 1024**2), "application/pdf")
    response = client.post(url, {"file": huge}, format="multipart")
    assert response.status_code == 400
    assert "at most 20 MB" in response.json()["error"]["fields"]["file"][0]
    response = client.post(url, {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    assert not ReportAttachment.objects.exists()


def test_wrong_state_transitions_are_409s(
    auditor, company_editor, regulator, draft_report, finding, published_version
):
    auditor_api, company_api = tooling(auditor), tooling(company_editor)
    publish = reverse("audit-report-publish", args=[draft_report.pk])
    embargo = reverse("audit-report-embargo", args=[draft_report.pk])
    until = (timezone.now() + timedelta(days=20)).isoformat()
    # A draft has no embargo to change and cannot be published.
    assert auditor_api.post(publish).status_code == 403
    response = auditor_api.post(embargo, {"embargo_until": until, "reason": "r"}, format="json")
    assert response.status_code == 403
    auditor_api.post(reverse("audit-report-submit", args=[draft_report.pk]), DECLARATION,
                     format="json")  # fmt: skip
    reports.report_notify(report_id=draft_report.pk)
    # Embargoed: no early publication before the company's response.
    response = auditor_api.post(publish)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_response"
    # Its content is fixed: editing, adding findings or attachments is refused.
    detail = reverse("audit-report-detail", args=[draft_report.pk])
    response = auditor_api.patch(detail, {"title": "Changed"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_draft"
    body = finding_body(draft_report, published_version)
    assert auditor_api.post(reverse("finding-list"), body, format="json").status_code == 409
    # Embargo dates: in the past, or beyond the limit, are field errors.
    for when in (timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=400)):
        response = auditor_api.post(
            embargo, {"embargo_until": when.isoformat(), "reason": "r"}, format="json"
        )
        assert response.status_code == 400
        assert "embargo_until" in response.json()["error"]["fields"]
    # The company cannot edit the report; the regulator (who reads it with read:embargoed)
    # cannot change anything.
    assert company_api.patch(detail, {"title": "Ours"}, format="json").status_code == 403
    regulator_api = tooling(regulator, "read:embargoed")
    assert regulator_api.post(reverse("finding-dispute", args=[finding.pk]),
                              {"reason": "r"}, format="json").status_code == 403  # fmt: skip
    remediate = reverse("finding-remediate", args=[finding.pk])
    response = company_api.post(remediate, {"note": "Fixed."}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["error"]["fields"]
    response = company_api.post(
        remediate, {"note": "Fixed.", "version": published_version.pk}, format="json"
    )
    assert response.status_code == 400
    assert "later than" in response.json()["error"]["fields"]["version"][0]
    draft_report.refresh_from_db()
    assert draft_report.title != "Changed"
    assert Finding.objects.get(pk=finding.pk).status == "open"


# --- Bad input: browser --------------------------------------------------------------------------


def test_the_browser_shows_attachment_errors_inline(client_for, auditor, draft_report, settings):
    settings.OPENREFUSAL = settings.OPENREFUSAL | {"AUDIT_ATTACHMENT_MAX_BYTES": 1024**2}
    client = client_for(auditor)
    url = reverse("reports:attachment-upload", args=[draft_report.pk])
    for upload, message in (
        (SimpleUploadedFile("a.pdf", b"GIF89a not a pdf"), "Attachments must be PDF files"),
        (SimpleUploadedFile("b.pdf", PDF + b"0" * 2 * 1024**2), "at most 1 MB"),
    ):
        response = client.post(url, {"file": upload})
        assert response.status_code == 400
        assert message in response.content.decode()
        assert 'aria-invalid="true"' in response.content.decode()
    assert not ReportAttachment.objects.exists()


def test_the_browser_shows_wrong_state_and_bad_dates_inline(
    client_for, auditor, company_editor, embargoed_report, finding
):
    auditor_client, company_client = client_for(auditor), client_for(company_editor)
    response = auditor_client.post(
        reverse("reports:embargo", args=[embargoed_report.pk]),
        {"embargo_until": "2000-01-01T00:00", "reason": "Because."},
    )
    assert response.status_code == 400
    assert "must be in the future" in response.content.decode()
    response = auditor_client.post(
        reverse("reports:embargo", args=[embargoed_report.pk]),
        {"embargo_until": "not a date", "reason": ""},
    )
    assert response.status_code == 400
    response = auditor_client.post(reverse("reports:publish", args=[embargoed_report.pk]))
    assert response.status_code == 302
    page = auditor_client.get(response["Location"]).content.decode()
    assert "The company has not responded yet" in page
    answer = reverse("reports:finding-answer", args=[finding.pk, "acknowledge"])
    assert company_client.post(answer, {"note": ""}).status_code == 302
    response = company_client.post(answer, {"note": ""})
    assert response.status_code == 400
    assert "This finding is acknowledged" in response.content.decode()
    response = company_client.post(
        reverse("reports:finding-answer", args=[finding.pk, "dispute"]), {"reason": "  "}
    )
    assert response.status_code == 400
    assert FindingEvent.objects.filter(finding=finding).count() == 1
    dispute = reverse("reports:finding-answer", args=[finding.pk, "dispute"])
    assert company_client.post(dispute, {"reason": "Not so."}).status_code == 302
    # From a stale page: the finding is closed, its forms are gone, the message is not.
    response = company_client.post(dispute, {"reason": "Again."})
    assert response.status_code == 400
    assert "This finding is disputed" in response.content.decode()
    response = company_client.post(reverse("reports:finding-answer", args=[finding.pk, "undo"]))
    assert response.status_code == 404
    response = auditor_client.post(
        reverse("reports:edit", args=[embargoed_report.pk]), {"title": "Changed"}
    )
    assert response.status_code == 302
    assert "can no longer change" in auditor_client.get(response["Location"]).content.decode()


def test_the_browser_remediates_with_a_later_run(
    client_for, company_editor, embargoed_report, finding, company, system
):
    from audits import services as evidence
    from tests.audits.reports.conftest import csv_of

    later = evidence.run_upload(
        actor=company_editor,
        organization=company,
        system=system,
        upload=SimpleUploadedFile("later.csv", csv_of({"bio": {"refusal": 30}})),
        source="self_reported",
        system_version="2026-12",
        benchmark="bench",
    )
    evidence.run_ingest(later.pk)
    response = client_for(company_editor).post(
        reverse("reports:finding-answer", args=[finding.pk, "remediate"]),
        {"run": later.pk, "note": "Retrained; the new run refuses every request."},
    )
    assert response.status_code == 302, response.content.decode()
    finding.refresh_from_db()
    assert finding.status == "remediated"
    assert finding.remediated_run == later
