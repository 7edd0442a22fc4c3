"""Audit reports through their services: who may file, scope and finding checks, the
declaration, coordinated disclosure (notice, embargo limits, publication), the company's
answers to findings, and what the public ledger says while a report is under embargo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audits import report_selectors as selectors
from audits import report_services as reports
from audits.models import AuditReport, Finding, FindingEvent
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry, Organization
from policies import services as policy_services
from tests.audits.reports.conftest import DECLARATION, PDF, finding_fields

pytestmark = pytest.mark.django_db


def entries(action: str) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(action=action).order_by("seq"))


def test_it_creates_a_draft_off_the_record(draft_report):
    assert draft_report.status == "draft"
    assert list(draft_report.versions.all())
    assert list(draft_report.runs.all())
    assert not LedgerEntry.objects.filter(subject=f"auditreport:{draft_report.pk}").exists()


@pytest.mark.parametrize(
    "who", ["citizen", "company_editor", "regulator", "panelist", "moderator", "outsider"]
)
def test_it_lets_only_accredited_auditors_file(request, who, report_fields):
    with pytest.raises(NotAllowed):
        reports.report_create(actor=request.getfixturevalue(who), **report_fields)
    assert not AuditReport.objects.exists()


def test_an_expired_accreditation_cannot_file_or_submit(auditor, auditor_org, report_fields):
    report = reports.report_create(actor=auditor, **report_fields)
    Organization.objects.filter(pk=auditor_org.pk).update(
        accreditation_expires_at=timezone.now() - timedelta(days=1)
    )
    auditor_org.refresh_from_db()
    report_fields["auditor"] = auditor_org
    with pytest.raises(NotAllowed):
        reports.report_create(actor=auditor, **report_fields)
    with pytest.raises(NotAllowed):
        reports.report_submit(actor=auditor, report=report, **DECLARATION)
    report.refresh_from_db()
    assert report.status == "draft"


def test_the_scope_must_be_the_audited_companys(
    auditor, report_fields, other_company, published_version, policy, company_editor
):
    with pytest.raises(Invalid) as error:
        reports.report_create(actor=auditor, **report_fields | {"versions": []})
    assert "versions" in error.value.fields
    with pytest.raises(Invalid) as error:
        reports.report_create(actor=auditor, **report_fields | {"audited": other_company})
    assert "versions" in error.value.fields
    draft = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="2.0.0",
        body_markdown="# x",
        summary_of_changes="x",
    )
    with pytest.raises(Invalid) as error:
        reports.report_create(actor=auditor, **report_fields | {"versions": [draft]})
    assert "draft" in error.value.fields["versions"][0]
    start = report_fields["period_start"]
    with pytest.raises(Invalid) as error:
        reports.report_create(
            actor=auditor, **report_fields | {"period_end": start - timedelta(days=1)}
        )
    assert "period_end" in error.value.fields
    assert not AuditReport.objects.exists()


def test_a_finding_rests_on_a_clause_of_the_named_version(
    auditor, draft_report, published_version, run
):
    with pytest.raises(Invalid) as error:
        reports.finding_add(
            actor=auditor,
            report=draft_report,
            **finding_fields(published_version, run, clause_key="weapons.nuclear"),
        )
    assert "no clause" in error.value.fields["clause"][0]
    with pytest.raises(Invalid) as error:
        reports.finding_add(
            actor=auditor,
            report=draft_report,
            **finding_fields(published_version, run, sample_ids=["s1", "nope"]),
        )
    assert "nope" in error.value.fields["sample_ids"][0]
    with pytest.raises(Invalid) as error:
        reports.finding_add(
            actor=auditor,
            report=draft_report,
            **finding_fields(published_version, run, target_date=draft_report.period_start),
        )
    assert "target_date" in error.value.fields
    assert not Finding.objects.exists()


def test_a_finding_keeps_the_conformance_figure_it_rests_on(finding, run):
    figure = finding.conformance
    assert figure["run"] == run.pk
    assert figure["n"] == 30
    assert figure["expected_share"] == pytest.approx(20 / 30, abs=1e-4)
    assert figure["verdict"] == "diverges"
    assert sorted(finding.samples.values_list("sample_id", flat=True)) == ["s21", "s22"]
    assert finding.number == 1


def test_submitting_needs_the_whole_declaration(auditor, draft_report, finding):
    with pytest.raises(Invalid) as error:
        reports.report_submit(
            actor=auditor,
            report=draft_report,
            declares_no_non_audit_work=False,
            declares_no_contingent_fee=False,
            relationships_disclosed="  ",
        )
    assert set(error.value.fields) == {
        "declares_no_non_audit_work",
        "declares_no_contingent_fee",
        "relationships_disclosed",
    }
    draft_report.refresh_from_db()
    assert draft_report.status == "draft"
    assert not draft_report.content_sha256
    assert not entries("audit_report.submitted")


def test_submission_fixes_the_content_and_notice_starts_the_embargo(
    auditor,
    draft_report,
    finding,
    company_owner,
    company_editor,
    django_capture_on_commit_callbacks,
):
    report = reports.report_submit(actor=auditor, report=draft_report, **DECLARATION)
    assert report.status == "submitted"
    assert report.content_sha256 == reports.report_sha256(report)
    (entry,) = entries("audit_report.submitted")
    assert entry.payload["content_sha256"] == report.content_sha256
    assert report.title not in str(entry.payload)  # nothing of the text while under embargo
    report = reports.report_notify(report_id=report.pk)
    assert report.status == "embargoed"
    assert report.embargo_until == report.notified_at + timedelta(days=30)
    assert sorted(mail.outbox[0].to) == sorted([company_owner.email, company_editor.email])
    assert reports.report_notify(report_id=report.pk) is None  # once
    assert len(entries("audit_report.embargoed")) == 1


def test_the_database_refuses_to_change_a_submitted_report(embargoed_report, finding):
    from django.db import DatabaseError, connection, transaction

    statements = [
        ("UPDATE audits_auditreport SET title = 'x' WHERE id = %s", embargoed_report.pk),
        ("UPDATE audits_auditreport SET status = 'draft' WHERE id = %s", embargoed_report.pk),
        ("DELETE FROM audits_auditreport WHERE id = %s", embargoed_report.pk),
        ("UPDATE audits_finding SET observed = 'x' WHERE id = %s", finding.pk),
        ("UPDATE audits_finding SET status = 'open', acknowledged_at = NULL "
         "WHERE id = %s AND status = 'open'", finding.pk),
        ("DELETE FROM audits_finding WHERE id = %s", finding.pk),
        ("DELETE FROM audits_auditreport_runs WHERE auditreport_id = %s", embargoed_report.pk),
        ("DELETE FROM audits_finding_samples WHERE finding_id = %s", finding.pk),
    ]  # fmt: skip
    refused, messages = 0, []
    for sql, pk in statements:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [pk])
        except DatabaseError as error:
            messages.append(str(error))
            refused += 1
    assert messages
    assert all("submitted" in m or "cannot" in m for m in messages)
    # The no-op status write is allowed (nothing changes); every other statement is refused.
    assert refused == len(statements) - 1
    finding.refresh_from_db()
    assert finding.observed == "10 of 30 requests were answered."


def test_only_the_auditor_edits_and_only_drafts(
    draft_report, company_editor, regulator, auditor, finding
):
    for who in (company_editor, regulator):
        with pytest.raises(NotAllowed):
            reports.report_update(actor=who, report=draft_report, title="Changed")
    reports.report_submit(actor=auditor, report=draft_report, **DECLARATION)
    with pytest.raises(Conflict):
        reports.report_update(actor=auditor, report=draft_report, title="Changed")
    with pytest.raises((NotAllowed, Conflict)):
        reports.report_update(actor=company_editor, report=draft_report, title="Changed")
    with pytest.raises(Conflict):
        reports.finding_add(
            actor=auditor,
            report=draft_report,
            **finding_fields(finding.version, finding.runs.first()),
        )
    draft_report.refresh_from_db()
    assert draft_report.title == "Refusal audit of the Acme Assistant, 2026"


def test_the_embargo_moves_within_its_limits(embargoed_report, auditor, company_editor):
    now = timezone.now()
    notified = embargoed_report.notified_at
    for until, word in [
        (now - timedelta(hours=1), "future"),
        (notified + timedelta(days=91), "at most"),
        (notified + timedelta(days=3), "at least"),
    ]:
        with pytest.raises(Invalid) as error:
            reports.report_set_embargo(
                actor=auditor, report=embargoed_report, until=until, reason="r"
            )
        assert word in error.value.fields["embargo_until"][0]
    with pytest.raises(NotAllowed):
        reports.report_set_embargo(
            actor=company_editor,
            report=embargoed_report,
            until=notified + timedelta(days=60),
            reason="r",
        )
    with pytest.raises(Invalid):
        reports.report_set_embargo(
            actor=auditor, report=embargoed_report, until=notified + timedelta(days=60), reason=""
        )
    report = reports.report_set_embargo(
        actor=auditor,
        report=embargoed_report,
        until=notified + timedelta(days=60),
        reason="The company asked for time to retrain.",
    )
    assert report.embargo_until == notified + timedelta(days=60)
    (entry,) = entries("audit_report.embargo_changed")
    assert entry.payload["reason"] == "The company asked for time to retrain."
    # After the company's response, the auditor may shorten below the minimum.
    reports.report_respond(actor=company_editor, report=embargoed_report, body="Noted.")
    report = reports.report_set_embargo(
        actor=auditor, report=embargoed_report, until=now + timedelta(days=1), reason="Answered."
    )
    assert report.embargo_until == now + timedelta(days=1)


def test_early_publication_waits_for_the_company(embargoed_report, auditor, company_editor):
    with pytest.raises(Conflict):
        reports.report_publish(actor=auditor, report=embargoed_report)
    with pytest.raises(NotAllowed):
        reports.report_respond(actor=auditor, report=embargoed_report, body="Not mine to give.")
    reports.report_respond(actor=company_editor, report=embargoed_report, body="We accept it.")
    with pytest.raises(NotAllowed):
        reports.report_publish(actor=company_editor, report=embargoed_report)
    report = reports.report_publish(actor=auditor, report=embargoed_report)
    assert report.status == "published"
    (entry,) = entries("audit_report.published")
    assert entry.payload["content_sha256"] == report.content_sha256
    assert entry.payload["early"] is True
    assert entry.payload["company_response_sha256"]
    with pytest.raises(Conflict):
        reports.report_respond(actor=company_editor, report=report, body="Changed our mind.")


def test_the_periodic_pass_publishes_at_the_end_of_the_embargo(
    embargoed_report, auditor, draft_report
):
    now = timezone.now()
    assert reports.reports_due(now=now) == {"published": 0, "notified": 0}
    later = embargoed_report.embargo_until + timedelta(seconds=1)
    assert reports.reports_due(now=later)["published"] == 1
    embargoed_report.refresh_from_db()
    assert embargoed_report.status == "published"
    assert embargoed_report.published_at == later
    assert entries("audit_report.published")[0].actor == "system"


def test_the_periodic_pass_notifies_a_report_whose_notice_was_lost(auditor, draft_report, finding):
    report = reports.report_submit(actor=auditor, report=draft_report, **DECLARATION)
    result = reports.reports_due(now=report.submitted_at + timedelta(minutes=6))
    assert result["notified"] == 1
    report.refresh_from_db()
    assert report.status == "embargoed"


def test_the_company_answers_findings_on_the_record(
    embargoed_report, finding, company_editor, auditor, regulator, outsider, citizen
):
    for who in (auditor, regulator, outsider, citizen):
        with pytest.raises(NotAllowed):
            reports.finding_acknowledge(actor=who, finding=finding)
    finding = reports.finding_acknowledge(actor=company_editor, finding=finding, note="Seen.")
    assert finding.status == "acknowledged"
    assert finding.acknowledged_at
    with pytest.raises(Conflict):
        reports.finding_acknowledge(actor=company_editor, finding=finding)
    with pytest.raises(Invalid) as error:
        reports.finding_dispute(actor=company_editor, finding=finding, reason="")
    assert "reason" in error.value.fields
    finding = reports.finding_dispute(
        actor=company_editor, finding=finding, reason="The prompts were not requests."
    )
    assert finding.status == "disputed"
    assert list(FindingEvent.objects.values_list("status", flat=True)) == [
        "acknowledged",
        "disputed",
    ]
    assert [e.action for e in LedgerEntry.objects.filter(subject=f"finding:{finding.pk}")] == [
        "finding.acknowledged",
        "finding.disputed",
    ]
    with pytest.raises(Conflict):
        reports.finding_remediate(actor=company_editor, finding=finding, note="x", run=None)


def test_remediation_is_checked_against_the_later_version(
    embargoed_report, finding, company_editor, policy, publish, policy_markdown
):
    with pytest.raises(Invalid) as error:
        reports.finding_remediate(actor=company_editor, finding=finding, note="Fixed.")
    assert "version" in error.value.fields
    unchanged = publish(policy, "1.1.0", policy_markdown + "\n", company_editor)
    with pytest.raises(Invalid) as error:
        reports.finding_remediate(
            actor=company_editor, finding=finding, note="Fixed.", version=unchanged
        )
    assert "does not change" in error.value.fields["version"][0]
    changed = publish(
        policy,
        "1.2.0",
        policy_markdown.replace(
            "with mass-casualty potential.", "with mass-casualty potential, in any framing."
        ),
        company_editor,
    )
    finding = reports.finding_remediate(
        actor=company_editor, finding=finding, note="Clause tightened.", version=changed
    )
    assert finding.status == "remediated"
    assert finding.remediated_version == changed


def test_attachments_are_pdfs_within_the_limit(auditor, draft_report, settings, pdf):
    with pytest.raises(Invalid) as error:
        reports.attachment_add(
            actor=auditor,
            report=draft_report,
            upload=SimpleUploadedFile("r.pdf", b"<html>not a pdf</html>"),
        )
    assert "PDF" in error.value.fields["file"][0]

    class Huge(SimpleUploadedFile):
        def read(self, *args):  # the size alone refuses it: nothing may be read
            raise AssertionError("read")

    huge = Huge("big.pdf", b"x")
    huge.size = 50 * 1024**2
    with pytest.raises(Invalid) as error:
        reports.attachment_add(actor=auditor, report=draft_report, upload=huge)
    assert "at most 20 MB" in error.value.fields["file"][0]
    attachment = reports.attachment_add(actor=auditor, report=draft_report, upload=pdf())
    assert attachment.size == len(PDF)
    assert len(attachment.sha256) == 64
    with pytest.raises(Invalid):
        reports.attachment_add(actor=auditor, report=draft_report, upload=pdf("again.pdf"))
    assert draft_report.attachments.count() == 1


@pytest.mark.parametrize(
    ("who", "draft", "embargoed", "published"),
    [
        ("anonymous", False, False, True),
        ("citizen", False, False, True),
        ("auditor", True, True, True),
        ("company_editor", False, True, True),
        ("company_member", False, True, True),
        ("regulator", False, True, True),
        ("outsider", False, False, True),
        ("panelist", False, False, True),
    ],
)
def test_who_sees_which_report(
    request, who, draft, embargoed, published, auditor, report_fields, embargoed_report
):
    from django.contrib.auth.models import AnonymousUser

    draft_report = reports.report_create(actor=auditor, **report_fields | {"title": "Second"})
    published_report = request.getfixturevalue("published_report")
    other = reports.report_create(actor=auditor, **report_fields | {"title": "Third"})
    reports.finding_add(
        actor=auditor,
        report=other,
        **finding_fields(report_fields["versions"][0], report_fields["runs"][0]),
    )
    reports.report_submit(actor=auditor, report=other, **DECLARATION)
    reports.report_notify(report_id=other.pk)
    user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)
    visible = set(selectors.reports_for(user).values_list("pk", flat=True))
    assert (draft_report.pk in visible) is draft
    assert (other.pk in visible) is embargoed
    assert (published_report.pk in visible) is published


def test_the_scorecard_counts_published_findings(
    auditor, report_fields, company_editor, company, published_version, run
):
    today = timezone.now().date()
    report = reports.report_create(
        actor=auditor, **report_fields | {"period_end": today - timedelta(days=10)}
    )
    late, on_time = (
        reports.finding_add(
            actor=auditor,
            report=report,
            **finding_fields(published_version, run, target_date=target, severity=severity),
        )
        for target, severity in ((today - timedelta(days=1), "critical"), (today, "low"))
    )
    reports.report_submit(actor=auditor, report=report, **DECLARATION)
    reports.report_notify(report_id=report.pk)
    assert selectors.scorecard(company).total == 0  # under embargo: not public yet
    reports.report_respond(actor=company_editor, report=report, body="Thanks.")
    reports.report_publish(actor=auditor, report=report)
    reports.finding_acknowledge(actor=company_editor, finding=late)
    reports.finding_dispute(actor=company_editor, finding=on_time, reason="Out of scope.")
    card = selectors.scorecard(company)
    assert card.total == 2
    assert card.overdue == 1
    assert card.matrix == {"critical": {"acknowledged": 1}, "low": {"disputed": 1}}
    assert card.median_days_to_acknowledge is not None
    assert card.median_days_to_acknowledge < 1
    assert card.median_days_to_remediate is None
