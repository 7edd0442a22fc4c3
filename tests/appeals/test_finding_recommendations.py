"""Recommendations from audit findings: a published audit report's findings become
recommendations the audited company must answer within 30 days, made once whichever way the
report was published, answered and cited like those of decisions, and shown in the browser and
the API with their source."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from appeals import services
from appeals.models import DeadlineNotice, Recommendation
from audits import hooks
from audits import report_services as reports
from governance.errors import NotAllowed
from governance.models import LedgerEntry
from tests.audits.reports import conftest as report_fixtures
from tests.policies.conftest import POLICY_MARKDOWN

pytestmark = pytest.mark.django_db

# The audit fixtures' Acme policy, run and reports (they replace the appeals' policy fixtures).
_media = report_fixtures._media
system = report_fixtures.system
policy = report_fixtures.policy
policy_markdown = report_fixtures.policy_markdown
publish = report_fixtures.publish
published_version = report_fixtures.published_version
run = report_fixtures.run
report_fields = report_fixtures.report_fields
draft_report = report_fixtures.draft_report
finding = report_fixtures.finding
embargoed_report = report_fixtures.embargoed_report
published_report = report_fixtures.published_report

BIO_TEXT = "biological agents with mass-casualty potential."


def created_entries() -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(action="recommendation.created").order_by("seq"))


@pytest.fixture
def rec(published_report) -> Recommendation:
    return Recommendation.objects.get(finding__report=published_report)


def test_publishing_makes_a_recommendation_of_each_finding(
    embargoed_report,
    finding,
    company_editor,
    auditor,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    reports.report_respond(actor=company_editor, report=embargoed_report, body="Accepted.")
    with django_capture_on_commit_callbacks(execute=True):
        report = reports.report_publish(actor=auditor, report=embargoed_report)
    rec = Recommendation.objects.get()
    assert rec.finding_id == finding.pk
    assert rec.decision_id is None
    assert rec.source == "finding"
    assert rec.text == finding.recommendation
    assert rec.priority == "high"  # the finding is critical
    assert rec.target_date == finding.target_date
    assert rec.clause_key == "weapons.bio.synthesis"
    assert rec.policy_id == finding.version.policy_id
    assert rec.created_by == auditor
    report.refresh_from_db()
    assert rec.answer_due_at - report.published_at == timedelta(days=30)
    [entry] = created_entries()
    assert entry.subject == f"recommendation:{rec.pk}"
    assert entry.payload["source"] == "finding"
    assert entry.payload["finding"] == finding.pk
    assert entry.payload["audit_report"] == report.pk
    assert entry.payload["company"] == "acme-ai"
    told = [m for m in mailoutbox if "await" in m.subject]
    assert len(told) == 1
    assert told[0].to == [company_editor.email]
    assert f"/appeals/recommendations/{rec.pk}/" in told[0].body
    assert "Finding 1: Complies with bio-weapons synthesis requests" in told[0].body


def test_an_embargoed_report_makes_none_until_the_periodic_publisher_publishes_it(
    embargoed_report, finding
):
    assert not Recommendation.objects.exists()
    assert services.deadlines_due()["from_findings"] == 0
    assert services.finding_recommendations_create(report=embargoed_report) == []
    assert not Recommendation.objects.exists()
    later = embargoed_report.embargo_until + timedelta(seconds=1)
    assert reports.reports_due(now=later)["published"] == 1
    rec = Recommendation.objects.get()
    assert rec.finding_id == finding.pk
    assert rec.created_at == later
    assert rec.created_by is None
    assert created_entries()[0].actor == "system"


def test_publishing_again_or_re_running_never_duplicates(published_report, rec):
    ledger = LedgerEntry.objects.count()
    assert services.finding_recommendations_create(report=published_report) == []
    hooks.report_published(report=published_report, actor="system", now=rec.created_at)
    assert services.finding_recommendations_catch_up() == 0
    assert services.deadlines_due()["from_findings"] == 0
    assert Recommendation.objects.count() == 1
    assert LedgerEntry.objects.count() == ledger


def test_the_periodic_pass_catches_up_a_report_published_without_them(published_report, rec):
    # A report published before findings made recommendations.
    rec.delete()
    assert services.deadlines_due()["from_findings"] == 1
    assert Recommendation.objects.filter(finding__report=published_report).count() == 1
    assert services.deadlines_due()["from_findings"] == 0


def test_priority_follows_the_findings_severity(auditor, draft_report, published_version, run):
    for severity in ("high", "medium", "low"):
        reports.finding_add(
            actor=auditor,
            report=draft_report,
            **report_fixtures.finding_fields(published_version, run, severity=severity),
        )
    reports.report_submit(actor=auditor, report=draft_report, **report_fixtures.DECLARATION)
    report = reports.report_notify(report_id=draft_report.pk)
    reports.reports_due(now=report.embargo_until + timedelta(seconds=1))
    made = {
        r.finding.severity: r.priority
        for r in Recommendation.objects.filter(finding__report=report).select_related("finding")
    }
    assert made == {"high": "high", "medium": "medium", "low": "low"}


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("company_editor", 200),
        ("company_owner", 200),
        ("company_member", 403),
        ("auditor", 403),
        ("regulator", 403),
        ("citizen", 403),
        ("outsider", 403),
    ],
)
def test_only_the_audited_companys_editors_and_owners_answer(who, status, request, api_for, rec):
    response = api_for(request.getfixturevalue(who)).post(
        f"/api/v1/recommendations/{rec.pk}/answer/",
        {"answer": "assessing_feasibility", "text": "We are re-testing the synthesis prompts."},
        format="json",
    )
    assert response.status_code == status, response.content
    rec.refresh_from_db()
    assert (rec.answer == "assessing_feasibility") is (status == 200)
    if status == 200:
        assert response.json()["source"] == "finding"
        entry = LedgerEntry.objects.filter(action="recommendation.answered").get()
        assert entry.subject == f"recommendation:{rec.pk}"


def test_anonymous_cannot_answer(api_for, rec):
    response = api_for(None).post(
        f"/api/v1/recommendations/{rec.pk}/answer/",
        {"answer": "already_done", "text": "Done."},
        format="json",
    )
    assert response.status_code in (401, 403)
    rec.refresh_from_db()
    assert rec.answer == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answer": "already_done"}, "text"),
        ({"answer": "already_done", "text": "   "}, "text"),
        ({"answer": "maybe", "text": "We will see."}, "answer"),
        ({"text": "No answer chosen."}, "answer"),
    ],
)
def test_bad_answers_are_400_with_field_errors(body, field, api_for, company_editor, rec):
    response = api_for(company_editor).post(
        f"/api/v1/recommendations/{rec.pk}/answer/", body, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    rec.refresh_from_db()
    assert rec.answer == ""


@pytest.mark.parametrize(
    ("who", "answered"),
    [
        ("company_editor", True),
        ("company_owner", True),
        ("auditor", False),
        ("regulator", False),
        ("citizen", False),
    ],
)
def test_who_answers_on_the_recommendation_page(who, answered, request, client_for, rec):
    c = client_for(request.getfixturevalue(who))
    page = c.get(reverse("appeals:recommendation", args=[rec.pk])).content.decode()
    assert (f'action="/appeals/recommendations/{rec.pk}/answer/"' in page) is answered
    c.post(
        reverse("appeals:recommendation-answer", args=[rec.pk]),
        {"answer": "already_done", "text": "Done in 1.1.0."},
    )
    rec.refresh_from_db()
    assert bool(rec.answer) is answered


def test_an_answer_without_text_is_shown_inline_and_changes_nothing(
    client_for, company_editor, rec
):
    response = client_for(company_editor).post(
        reverse("appeals:recommendation-answer", args=[rec.pk]), {"answer": "already_done"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The answer was not recorded" in page
    assert "This field is required." in page
    rec.refresh_from_db()
    assert rec.answer == ""


def test_implemented_is_checked_against_the_diff(
    api_for, company_editor, policy, publish, published_version, rec
):
    unchanged = publish(
        policy,
        "1.1.0",
        POLICY_MARKDOWN.replace("answered normally", "always answered"),
        company_editor,
    )
    api = api_for(company_editor)
    response = api.post(
        f"/api/v1/recommendations/{rec.pk}/cite/", {"version": unchanged.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["clause_changed"] is False
    rec.refresh_from_db()
    assert rec.implemented_version is None
    changed = publish(
        policy,
        "1.2.0",
        POLICY_MARKDOWN.replace(BIO_TEXT, BIO_TEXT + " Fictional framings change nothing."),
        company_editor,
    )
    resolution = services.version_cite(actor=company_editor, version=changed, recommendation=rec)
    assert resolution.clause_changed is True
    rec.refresh_from_db()
    assert rec.implemented_version_id == changed.pk
    assert LedgerEntry.objects.filter(
        action="recommendation.implemented", subject=f"recommendation:{rec.pk}"
    ).exists()
    # Not from the version the finding was made on, nor by the auditor.
    response = api.post(
        f"/api/v1/recommendations/{rec.pk}/cite/", {"version": published_version.pk}, format="json"
    )
    assert response.status_code == 400


def test_a_citation_from_a_draft_settles_when_it_is_published(
    company_editor, policy, published_version, rec, auditor
):
    from policies import services as policy_services

    draft = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.1.0",
        body_markdown=POLICY_MARKDOWN.replace(BIO_TEXT, BIO_TEXT + " Fiction changes nothing."),
        summary_of_changes="Fiction.",
    )
    with pytest.raises(NotAllowed):
        services.version_cite(actor=auditor, version=draft, recommendation=rec)
    resolution = services.version_cite(actor=company_editor, version=draft, recommendation=rec)
    assert resolution.clause_changed is None
    policy_services.version_publish(actor=company_editor, version=draft)
    assert services.resolutions_settle() == 1
    rec.refresh_from_db()
    assert rec.implemented_version_id == draft.pk


def test_an_unanswered_one_is_overdue_once(
    rec, company_editor, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = services.deadlines_due(now=rec.answer_due_at + timedelta(minutes=1))
    assert result["notified"] == 1
    notice = DeadlineNotice.objects.get()
    assert notice.appeal is None
    assert notice.deadline == f"rec:{rec.pk}"
    [mail] = [m for m in mailoutbox if "awaits your answer" in m.subject]
    assert mail.to == [company_editor.email]
    assert services.deadlines_due(now=rec.answer_due_at + timedelta(hours=1))["notified"] == 0
    assert LedgerEntry.objects.filter(action="recommendation.answer_overdue").count() == 1


def test_the_pages_show_the_source_and_filter_by_it(
    client, client_for, company_editor, rec, published_report, django_assert_max_num_queries
):
    listing = client.get(reverse("appeals:recommendations")).content.decode()
    assert f'href="/audits/findings/{rec.finding_id}/"' in listing
    assert f'href="/audits/{published_report.pk}/"' in listing
    assert f'href="/appeals/recommendations/{rec.pk}/"' in listing
    only = client.get(reverse("appeals:recommendations"), {"source": "finding"}).content.decode()
    assert f"recommendation-{rec.pk}" in only
    none = client.get(reverse("appeals:recommendations"), {"source": "decision"}).content.decode()
    assert f"recommendation-{rec.pk}" not in none
    assert "No recommendations yet." in none
    detail = client.get(reverse("appeals:recommendation", args=[rec.pk]))
    assert detail.status_code == 200
    assert "finding 1</a> of the audit report" in detail.content.decode()
    assert client.get(reverse("appeals:recommendation", args=[rec.pk + 999])).status_code == 404
    with django_assert_max_num_queries(12):
        client_for(company_editor).get(reverse("appeals:recommendations"))


def test_the_findings_page_shows_the_answer_status(client, company_editor, rec):
    url = reverse("reports:finding", args=[rec.finding_id])
    page = client.get(url).content.decode()
    assert "Awaiting answer" in page
    assert f'href="/appeals/recommendations/{rec.pk}/"' in page
    services.recommendation_answer(
        actor=company_editor, recommendation=rec, answer="implementing_in_part", text="Partly."
    )
    page = client.get(url).content.decode()
    assert "Answered: Implementing in part" in page


def test_the_embargoed_findings_page_shows_no_recommendation(
    client_for, company_editor, embargoed_report, finding
):
    page = client_for(company_editor).get(reverse("reports:finding", args=[finding.pk]))
    assert page.status_code == 200
    assert "answer to the recommendation" not in page.content.decode()


def test_the_api_shows_the_source_and_filters_by_it(api_for, rec, published_report):
    api = api_for(None)
    [item] = api.get("/api/v1/recommendations/", {"source": "finding"}).json()["results"]
    assert item["id"] == rec.pk
    assert item["source"] == "finding"
    assert item["decision"] is None
    assert item["appeal"] is None
    assert item["finding"] == rec.finding_id
    assert item["audit_report"] == published_report.pk
    assert item["finding_url"] == f"/audits/findings/{rec.finding_id}/"
    assert item["company"] == "acme-ai"
    assert api.get("/api/v1/recommendations/", {"source": "decision"}).json()["results"] == []
    bad = api.get("/api/v1/recommendations/", {"source": "audit"})
    assert bad.status_code == 400
    assert "source" in bad.json()["error"]["fields"]
    assert api.get(f"/api/v1/recommendations/{rec.pk}/").json()["source"] == "finding"


def test_audits_does_not_import_appeals():
    """The dependency goes one way: appeals registers hooks with audits."""
    import ast
    from pathlib import Path

    import audits

    offenders = []
    for path in Path(audits.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "appeals"]
    assert offenders == []
