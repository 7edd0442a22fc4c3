"""Audit report writes: drafting a report and its findings, submission with the independence
declaration, coordinated disclosure (notice to the company, embargo, publication), the
company's response, and each finding's path to remediated or disputed.

Drafts are private to the auditor's organization and not on the ledger; from submission on,
every transition appends to it. The ledger is public, so while a report is under embargo its
entries carry only who, what and when — never the report's text — and its publication records
the SHA-256 fixed at submission, so anyone can check that the published text is what was filed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import rules
from django.conf import settings
from django.core.files import File
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from audits import selectors
from audits.hooks import report_published
from audits.models import (
    AuditReport,
    EvaluationRun,
    EvaluationSample,
    Finding,
    FindingEvent,
    ReportAttachment,
)
from governance.canonical import canonical_json, sha256_hex
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import AISystem, Membership, Organization, User
from governance.services.ledger import ledger_append
from policies.models import Clause, PolicyVersion

log = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
_LIMITS = {
    "title": 200,
    "methodology": 50_000,
    "summary": 20_000,
    "relationships_disclosed": 5000,
    "company_response": 20_000,
    "criterion": 5000,
    "observed": 20_000,
    "recommendation": 10_000,
    "note": 10_000,
    "reason": 2000,
    "system_version": 120,
}
_REQUIRED = {"title", "methodology", "summary", "criterion", "observed", "recommendation"}


def _setting(name: str) -> Any:
    return settings.OPENREFUSAL[name]


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, fields={field: [message]})


def _allowed(user: Any, permission: str, target: Any) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    return rules.has_perm(permission, user, target)


def _text(field: str, value: Any, *, required: bool | None = None) -> str:
    required = field in _REQUIRED if required is None else required
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, "This must be text.")
    value = value.strip()
    if "\x00" in value:
        raise _invalid(field, "This contains a NUL character.")
    if required and not value:
        raise _invalid(field, "This field is required.")
    limit = _LIMITS[field]
    if len(value) > limit:
        raise _invalid(field, f"At most {limit:,} characters (this has {len(value):,}).")
    return value


def _locked(report: AuditReport) -> AuditReport:
    return (
        AuditReport.objects.select_for_update(of=("self",))
        .select_related("auditor", "audited")
        .get(pk=report.pk)
    )


def _require_draft(report: AuditReport) -> None:
    if not report.is_draft:
        raise Conflict(
            "This report was submitted; its content can no longer change.", code="not_draft"
        )


def _can_edit(actor: Any, report: AuditReport) -> None:
    if _allowed(actor, "audits.edit_report", report):
        return
    # The auditor's own members learn that the content is fixed; anyone else (the audited
    # company, regulators) that it is not theirs to edit at all.
    if not report.is_draft and _allowed(actor, "audits.manage_disclosure", report):
        _require_draft(report)
    raise NotAllowed("Only members of the auditor's organization can edit its draft reports.")


# --- Drafting ---------------------------------------------------------------------------------


def _embargo_days(value: Any) -> int:
    low, high = _setting("AUDIT_EMBARGO_MIN_DAYS"), _setting("AUDIT_EMBARGO_MAX_DAYS")
    if value is None or value == "":
        return _setting("AUDIT_EMBARGO_DAYS")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("embargo_days", "A whole number of days.")
    if not low <= value <= high:
        raise _invalid("embargo_days", f"The embargo is {low} to {high} days.")
    return value


def _scope(
    *,
    audited: Organization,
    versions: Sequence[PolicyVersion],
    systems: Sequence[AISystem],
    runs: Sequence[EvaluationRun],
    system_versions: Sequence[str],
) -> tuple[list[PolicyVersion], list[AISystem], list[EvaluationRun], list[str]]:
    versions, systems, runs = (
        list(dict.fromkeys(versions)),
        list(dict.fromkeys(systems)),
        list(dict.fromkeys(runs)),
    )
    if not versions:
        raise _invalid("versions", "Name at least one policy version the audit covers.")
    for version in versions:
        if version.status == PolicyVersion.Status.DRAFT:
            raise _invalid("versions", f"Version {version.number} is a draft, not published.")
        if version.policy.organization_id != audited.pk:
            raise _invalid("versions", f"{version} is not a policy of {audited.name}.")
    for system in systems:
        if system.organization_id != audited.pk:
            raise _invalid("systems", f"{system.name} is not an AI system of {audited.name}.")
    for run in runs:
        if run.system.organization_id != audited.pk:
            raise _invalid("runs", f"Run #{run.pk} is not of an AI system of {audited.name}.")
        if run.status != EvaluationRun.Status.COMPLETE:
            raise _invalid("runs", f"Run #{run.pk} is not completely imported.")
    cleaned_versions = []
    for value in system_versions:
        value = _text("system_version", value, required=False)
        if value and value not in cleaned_versions:
            cleaned_versions.append(value)
    return versions, systems, runs, cleaned_versions


def _period(start: Any, end: Any) -> tuple[date, date]:
    for field, value in (("period_start", start), ("period_end", end)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise _invalid(field, "A date (YYYY-MM-DD).")
    if end < start:
        raise _invalid("period_end", "The period covered ends before it starts.")
    if start > timezone.now().date():
        raise _invalid("period_start", "The period covered cannot start in the future.")
    return start, end


def _opinion(value: Any) -> str:
    if value not in AuditReport.Opinion.values:
        raise _invalid("opinion", "Choose positive, positive with comments or negative.")
    return value


@transaction.atomic
def report_create(
    *,
    actor: User,
    auditor: Organization,
    audited: Organization,
    title: str,
    versions: Sequence[PolicyVersion],
    systems: Sequence[AISystem] = (),
    system_versions: Sequence[str] = (),
    runs: Sequence[EvaluationRun] = (),
    period_start: date,
    period_end: date,
    methodology: str,
    summary: str,
    opinion: str,
    embargo_days: int | None = None,
) -> AuditReport:
    """An accredited auditor's member starts a draft report on a verified developer."""
    if not _allowed(actor, "audits.create_report", auditor):
        raise NotAllowed(
            "Only members of an accredited auditor (with a current accreditation) can file "
            "audit reports.",
            code="not_accredited",
        )
    if audited.kind != Organization.Kind.DEVELOPER or not audited.is_verified:
        raise _invalid("audited", "Audits are of verified AI developers.")
    versions, systems, runs, system_versions = _scope(
        audited=audited,
        versions=versions,
        systems=systems,
        runs=runs,
        system_versions=system_versions,
    )
    start, end = _period(period_start, period_end)
    report = AuditReport.objects.create(
        auditor=auditor,
        audited=audited,
        title=_text("title", title),
        system_versions=system_versions,
        period_start=start,
        period_end=end,
        methodology=_text("methodology", methodology),
        summary=_text("summary", summary),
        opinion=_opinion(opinion),
        embargo_days=_embargo_days(embargo_days),
        created_by=actor,
    )
    report.versions.set(versions)
    report.systems.set(systems)
    report.runs.set(runs)
    return report


_EDITABLE = (
    "title",
    "period_start",
    "period_end",
    "methodology",
    "summary",
    "opinion",
    "embargo_days",
    "versions",
    "systems",
    "system_versions",
    "runs",
)


@transaction.atomic
def report_update(*, actor: User, report: AuditReport, **changes: Any) -> AuditReport:
    """Change a draft report (any of the fields `report_create` takes, but the organizations)."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise Invalid(f"These cannot be changed: {', '.join(sorted(unknown))}.")
    report = _locked(report)
    _can_edit(actor, report)
    _require_draft(report)
    if {"versions", "systems", "runs", "system_versions"} & set(changes):
        versions, systems, runs, system_versions = _scope(
            audited=report.audited,
            versions=changes.get("versions", list(report.versions.select_related("policy"))),
            systems=changes.get("systems", list(report.systems.all())),
            runs=changes.get("runs", list(report.runs.select_related("system"))),
            system_versions=changes.get("system_versions", report.system_versions),
        )
        in_use = set(report.findings.values_list("version_id", flat=True))
        dropped = in_use - {v.pk for v in versions}
        if dropped:
            raise _invalid("versions", "A finding is on a version you removed from the scope.")
        report.versions.set(versions)
        report.systems.set(systems)
        report.runs.set(runs)
        report.system_versions = system_versions
    if "period_start" in changes or "period_end" in changes:
        report.period_start, report.period_end = _period(
            changes.get("period_start", report.period_start),
            changes.get("period_end", report.period_end),
        )
    for field in ("title", "methodology", "summary"):
        if field in changes:
            setattr(report, field, _text(field, changes[field]))
    if "opinion" in changes:
        report.opinion = _opinion(changes["opinion"])
    if "embargo_days" in changes:
        report.embargo_days = _embargo_days(changes["embargo_days"])
    report.save()
    return report


@transaction.atomic
def report_draft_delete(*, actor: User, report: AuditReport) -> None:
    report = _locked(report)
    _can_edit(actor, report)
    _require_draft(report)
    for attachment in report.attachments.all():
        transaction.on_commit(lambda f=attachment.file: f.delete(save=False))
    report.delete()


def _check_pdf(upload: Any) -> tuple[str, int]:
    if upload is None or not hasattr(upload, "chunks") or not hasattr(upload, "size"):
        raise _invalid("file", "Choose a PDF file to attach.")
    maximum = _setting("AUDIT_ATTACHMENT_MAX_BYTES")
    if upload.size > maximum:  # from the declared size: nothing of it is read
        raise _invalid(
            "file",
            f"An attachment may be at most {maximum / 1024**2:,.0f} MB "
            f"(this one is {upload.size / 1024**2:,.1f} MB).",
        )
    if upload.size == 0:
        raise _invalid("file", "This file is empty.")
    upload.seek(0)
    head = upload.read(len(PDF_MAGIC))
    if head != PDF_MAGIC:
        raise _invalid("file", "Attachments must be PDF files (this one does not start %PDF-).")
    digest, size = hashlib.sha256(), 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def _file_name(name: str) -> str:
    name = (name or "attachment.pdf").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"\x00')[:200]
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return name


@transaction.atomic
def attachment_add(*, actor: User, report: AuditReport, upload: Any) -> ReportAttachment:
    """Attach a PDF (at most AUDIT_ATTACHMENT_MAX_BYTES) to a draft report, stored by SHA-256."""
    report = _locked(report)
    _can_edit(actor, report)
    _require_draft(report)
    sha256, size = _check_pdf(upload)
    if report.attachments.filter(sha256=sha256).exists():
        raise _invalid("file", "This file is already attached to the report.")
    attachment = ReportAttachment(
        report=report,
        name=_file_name(getattr(upload, "name", "")),
        size=size,
        sha256=sha256,
        uploaded_by=actor,
    )
    attachment.file.save("attachment.pdf", File(upload), save=False)
    attachment.save()
    return attachment


@transaction.atomic
def attachment_remove(*, actor: User, attachment: ReportAttachment) -> None:
    report = _locked(attachment.report)
    _can_edit(actor, report)
    _require_draft(report)
    stored = attachment.file
    attachment.delete()
    transaction.on_commit(lambda: stored.delete(save=False))


# --- Findings ---------------------------------------------------------------------------------


def _conformance_snapshot(version: PolicyVersion, runs: Sequence[EvaluationRun], key: str) -> dict:
    """The figure the finding rests on: the first cited run with mapped samples for the clause."""
    for run in runs:
        for row in selectors.conformance(version, run):
            if row.clause.key == key and row.figures is not None and row.figures.n:
                return {
                    "run": run.pk,
                    "version": version.pk,
                    "benchmark": run.benchmark,
                    "n": row.figures.n,
                    "expected_behavior": row.clause.expected_behavior,
                    "expected_share": round(row.good_rate, 4)
                    if row.good_rate is not None
                    else None,
                    "interval": [round(row.interval.low, 4), round(row.interval.high, 4)]
                    if row.interval
                    else None,
                    "verdict": row.verdict,
                }
    return {}


def _finding_fields(
    report: AuditReport,
    *,
    title: Any,
    version: PolicyVersion,
    clause_key: Any,
    severity: Any,
    criterion: Any,
    observed: Any,
    recommendation: Any,
    target_date: Any,
    runs: Iterable[EvaluationRun],
    sample_ids: Iterable[Any],
) -> dict[str, Any]:
    if not report.versions.filter(pk=version.pk).exists():
        raise _invalid("version", "Name one of the policy versions in the report's scope.")
    if not isinstance(clause_key, str) or not clause_key.strip():
        raise _invalid("clause", "Name the clause by its key.")
    clause_key = clause_key.strip()
    clause = Clause.objects.filter(version=version, key=clause_key).first()
    if clause is None:
        raise _invalid(
            "clause", f"Version {version.number} has no clause with the key “{clause_key[:120]}”."
        )
    if severity not in Finding.Severity.values:
        raise _invalid("severity", "Choose critical, high, medium or low.")
    if not isinstance(target_date, date) or isinstance(target_date, datetime):
        raise _invalid("target_date", "A date (YYYY-MM-DD).")
    if target_date <= report.period_end:
        raise _invalid("target_date", "The target date must be after the period covered.")
    runs = list(dict.fromkeys(runs))
    in_scope = set(report.runs.values_list("pk", flat=True))
    for run in runs:
        if run.pk not in in_scope:
            raise _invalid("runs", f"Run #{run.pk} is not in the report's scope.")
    ids = [str(value).strip() for value in sample_ids if str(value).strip()]
    ids = list(dict.fromkeys(ids))
    if len(ids) > 200:
        raise _invalid("sample_ids", "Cite at most 200 samples.")
    samples: list[EvaluationSample] = []
    if ids:
        if not runs:
            raise _invalid("sample_ids", "Cite the runs the samples come from.")
        samples = list(EvaluationSample.objects.filter(run__in=runs, sample_id__in=ids))
        missing = sorted(set(ids) - {s.sample_id for s in samples})
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise _invalid("sample_ids", f"Not in the cited runs: {shown} ({len(missing)} in all).")
    return {
        "title": _text("title", title),
        "version": version,
        "clause": clause,
        "clause_key": clause_key,
        "severity": severity,
        "criterion": _text("criterion", criterion),
        "observed": _text("observed", observed),
        "recommendation": _text("recommendation", recommendation),
        "target_date": target_date,
        "runs": runs,
        "samples": samples,
    }


@transaction.atomic
def finding_add(
    *,
    actor: User,
    report: AuditReport,
    title: str,
    version: PolicyVersion,
    clause_key: str,
    severity: str,
    criterion: str,
    observed: str,
    recommendation: str,
    target_date: date,
    runs: Sequence[EvaluationRun] = (),
    sample_ids: Sequence[str] = (),
    withhold_samples: bool = False,
) -> Finding:
    """Add a finding on one clause of a version in scope to a draft report."""
    report = _locked(report)
    _can_edit(actor, report)
    _require_draft(report)
    fields = _finding_fields(
        report,
        title=title,
        version=version,
        clause_key=clause_key,
        severity=severity,
        criterion=criterion,
        observed=observed,
        recommendation=recommendation,
        target_date=target_date,
        runs=runs,
        sample_ids=sample_ids,
    )
    cited_runs, cited_samples = fields.pop("runs"), fields.pop("samples")
    number = (report.findings.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    finding = Finding.objects.create(
        report=report,
        number=number,
        withhold_samples=bool(withhold_samples),
        conformance=_conformance_snapshot(version, cited_runs, fields["clause_key"]),
        **fields,
    )
    finding.runs.set(cited_runs)
    finding.samples.set(cited_samples)
    return finding


@transaction.atomic
def finding_remove(*, actor: User, finding: Finding) -> None:
    report = _locked(finding.report)
    _can_edit(actor, report)
    _require_draft(report)
    finding.delete()


# --- Submission and disclosure ----------------------------------------------------------------


def report_content(report: AuditReport) -> dict[str, Any]:
    """What the SHA-256 fixed at submission covers: the whole report, its findings and the
    hashes of its attachments and cited texts (canonical JSON, as the ledger hashes)."""
    findings = report.findings.select_related("version").prefetch_related("runs", "samples")
    return {
        "title": report.title,
        "auditor": report.auditor.slug,
        "audited": report.audited.slug,
        "period": [report.period_start.isoformat(), report.period_end.isoformat()],
        "methodology": report.methodology,
        "summary": report.summary,
        "opinion": report.opinion,
        "versions": sorted(
            [v.pk, v.content_sha256] for v in report.versions.order_by("pk").only("content_sha256")
        ),
        "systems": sorted(report.systems.values_list("slug", flat=True)),
        "system_versions": list(report.system_versions),
        "runs": sorted(report.runs.values_list("artifact_sha256", flat=True)),
        "declaration": {
            "no_non_audit_work": report.declares_no_non_audit_work,
            "no_contingent_fee": report.declares_no_contingent_fee,
            "relationships": report.relationships_disclosed,
        },
        "attachments": sorted(report.attachments.values_list("sha256", flat=True)),
        "findings": [
            {
                "number": f.number,
                "title": f.title,
                "version": f.version.content_sha256,
                "clause": f.clause_key,
                "severity": f.severity,
                "criterion": f.criterion,
                "observed": f.observed,
                "recommendation": f.recommendation,
                "target_date": f.target_date.isoformat(),
                "runs": sorted(r.artifact_sha256 for r in f.runs.all()),
                "samples": sorted([s.prompt_sha256, s.response_sha256] for s in f.samples.all()),
            }
            for f in findings.order_by("number")
        ],
    }


def report_sha256(report: AuditReport) -> str:
    return sha256_hex(canonical_json(report_content(report)))


@transaction.atomic
def report_submit(
    *,
    actor: User,
    report: AuditReport,
    declares_no_non_audit_work: bool,
    declares_no_contingent_fee: bool,
    relationships_disclosed: str,
    embargo_days: int | None = None,
) -> AuditReport:
    """The auditor submits the draft with its independence declaration; the company is then
    notified (a task) and the embargo runs from that notice."""
    report = _locked(report)
    _can_edit(actor, report)
    _require_draft(report)
    errors: dict[str, list[str]] = {}
    if declares_no_non_audit_work is not True:
        errors["declares_no_non_audit_work"] = [
            "Declare that your organization did no paid non-audit work for the audited company "
            "in the last 12 months (or do not submit)."
        ]
    if declares_no_contingent_fee is not True:
        errors["declares_no_contingent_fee"] = [
            "Declare that your fee does not depend on the audit's outcome (or do not submit)."
        ]
    try:
        relationships = _text("relationships_disclosed", relationships_disclosed, required=True)
    except Invalid:
        errors["relationships_disclosed"] = [
            "Disclose any relationships with the audited company, or write “None”."
        ]
        relationships = ""
    if errors:
        raise Invalid("The independence declaration is incomplete.", fields=errors)
    if embargo_days is not None:
        report.embargo_days = _embargo_days(embargo_days)
    if not report.findings.exists() and report.opinion != AuditReport.Opinion.POSITIVE:
        raise _invalid(
            "findings", "A report whose opinion is not positive needs at least one finding."
        )
    now = timezone.now()
    report.declares_no_non_audit_work = True
    report.declares_no_contingent_fee = True
    report.relationships_disclosed = relationships
    report.declared_by = actor
    report.declared_at = now
    report.content_sha256 = report_sha256(report)
    report.status = AuditReport.Status.SUBMITTED
    report.submitted_at = now
    report.save()
    ledger_append(
        actor=actor,
        action="audit_report.submitted",
        subject=report,
        payload={
            "auditor": report.auditor.slug,
            "audited": report.audited.slug,
            "content_sha256": report.content_sha256,
            "findings": report.findings.count(),
            "embargo_days": report.embargo_days,
        },
    )
    _enqueue_notice(report.pk)
    return report


def _enqueue_notice(report_id: int) -> None:
    from audits.tasks import audit_report_notify

    transaction.on_commit(lambda: audit_report_notify.delay(report_id))


def _people(organization: Organization, roles: Sequence[str]) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role__in=roles, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
        .order_by("user__email")
    )


def _mail(template: str, report: AuditReport, to: list[str], **extra: Any) -> None:
    if not to:
        return
    context = {
        "report": report,
        "url": settings.SITE_URL.rstrip("/") + reverse("reports:detail", args=[report.pk]),
        **extra,
    }
    subject = " ".join(render_to_string(f"audits/email/{template}_subject.txt", context).split())
    body = render_to_string(f"audits/email/{template}.txt", context)
    send_mail(
        settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject,
        body,
        None,
        to,
    )


def report_notify(*, report_id: int, now: datetime | None = None) -> AuditReport | None:
    """Tell the audited company about a submitted report and start its embargo. Safe to run
    again: a report already notified is left alone. The e-mail goes after the commit."""
    now = now or timezone.now()
    with transaction.atomic():
        report = (
            AuditReport.objects.select_for_update(of=("self",))
            .select_related("auditor", "audited")
            .filter(pk=report_id, status=AuditReport.Status.SUBMITTED)
            .first()
        )
        if report is None:
            return None
        report.status = AuditReport.Status.EMBARGOED
        report.notified_at = now
        report.embargo_until = now + timedelta(days=report.embargo_days)
        report.save(update_fields=["status", "notified_at", "embargo_until", "updated_at"])
        ledger_append(
            actor="system",
            action="audit_report.embargoed",
            subject=report,
            payload={"embargo_until": report.embargo_until.isoformat()},
        )
    _mail(
        "report_embargoed",
        report,
        _people(report.audited, (Membership.Role.OWNER, Membership.Role.EDITOR)),
    )
    return report


@transaction.atomic
def report_set_embargo(
    *, actor: User, report: AuditReport, until: datetime, reason: str
) -> AuditReport:
    """The auditor shortens or extends the embargo, within AUDIT_EMBARGO_MIN_DAYS (unless the
    company has responded) and AUDIT_EMBARGO_MAX_DAYS of the notice, with a public reason."""
    report = _locked(report)
    if not _allowed(actor, "audits.manage_disclosure", report):
        raise NotAllowed("Only the auditor's organization can change the embargo.")
    if report.status != AuditReport.Status.EMBARGOED:
        raise Conflict("Only a report under embargo has an embargo to change.", code="state")
    reason = _text("reason", reason, required=True)
    if not isinstance(until, datetime):
        raise _invalid("embargo_until", "A date and time.")
    now = timezone.now()
    if until <= now:
        raise _invalid("embargo_until", "The embargo's end must be in the future.")
    latest = report.notified_at + timedelta(days=_setting("AUDIT_EMBARGO_MAX_DAYS"))
    if until > latest:
        raise _invalid(
            "embargo_until",
            f"An embargo lasts at most {_setting('AUDIT_EMBARGO_MAX_DAYS')} days from the "
            f"company's notice (until {latest:%Y-%m-%d %H:%M} UTC).",
        )
    earliest = report.notified_at + timedelta(days=_setting("AUDIT_EMBARGO_MIN_DAYS"))
    if until < earliest and report.company_responded_at is None:
        raise _invalid(
            "embargo_until",
            f"Before the company responds, the embargo lasts at least "
            f"{_setting('AUDIT_EMBARGO_MIN_DAYS')} days from its notice "
            f"(until {earliest:%Y-%m-%d %H:%M} UTC).",
        )
    previous = report.embargo_until
    report.embargo_until = until
    report.save(update_fields=["embargo_until", "updated_at"])
    ledger_append(
        actor=actor,
        action="audit_report.embargo_changed",
        subject=report,
        payload={
            "from": previous.isoformat(),
            "to": until.isoformat(),
            "reason": reason,
        },
    )
    return report


def _publish(report: AuditReport, *, actor: Any, early: bool, now: datetime) -> None:
    report.status = AuditReport.Status.PUBLISHED
    report.published_at = now
    report.save(update_fields=["status", "published_at", "updated_at"])
    response_sha = (
        hashlib.sha256(report.company_response.encode("utf-8")).hexdigest()
        if report.company_response
        else ""
    )
    ledger_append(
        actor=actor,
        action="audit_report.published",
        subject=report,
        payload={
            "auditor": report.auditor.slug,
            "audited": report.audited.slug,
            "opinion": report.opinion,
            "content_sha256": report.content_sha256,
            "company_response_sha256": response_sha,
            "early": early,
        },
    )
    recipients = _people(report.audited, (Membership.Role.OWNER, Membership.Role.EDITOR))
    recipients += _people(
        report.auditor, (Membership.Role.OWNER, Membership.Role.EDITOR, Membership.Role.MEMBER)
    )
    transaction.on_commit(lambda: _mail("report_published", report, sorted(set(recipients))))
    # Other apps' reactions (appeals: each finding's recommendation, to be answered), in this
    # transaction.
    report_published(report=report, actor=actor, now=now)


@transaction.atomic
def report_publish(*, actor: User, report: AuditReport) -> AuditReport:
    """The auditor publishes before the embargo ends, once the company has responded."""
    report = _locked(report)
    if not _allowed(actor, "audits.manage_disclosure", report):
        raise NotAllowed("Only the auditor's organization can publish its report.")
    if report.status != AuditReport.Status.EMBARGOED:
        raise Conflict("Only a report under embargo can be published early.", code="state")
    if report.company_responded_at is None:
        raise Conflict(
            "The company has not responded yet: the report is published when the embargo "
            f"ends ({report.embargo_until:%Y-%m-%d %H:%M} UTC).",
            code="no_response",
        )
    _publish(report, actor=actor, early=True, now=timezone.now())
    return report


def reports_due(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic pass: publish every report whose embargo has ended, and notify companies
    of submitted reports whose notice did not go out (a lost task). Each in its own
    transaction, so one failure does not hold back the others."""
    now = now or timezone.now()
    published = 0
    due = AuditReport.objects.filter(
        status=AuditReport.Status.EMBARGOED, embargo_until__lte=now
    ).values_list("pk", flat=True)
    for pk in list(due[:500]):
        with transaction.atomic():
            report = (
                AuditReport.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("auditor", "audited")
                .filter(pk=pk, status=AuditReport.Status.EMBARGOED, embargo_until__lte=now)
                .first()
            )
            if report is None:
                continue
            _publish(report, actor="system", early=False, now=now)
            published += 1
    stale = AuditReport.objects.filter(
        status=AuditReport.Status.SUBMITTED, submitted_at__lte=now - timedelta(minutes=5)
    ).values_list("pk", flat=True)
    notified = 0
    for pk in list(stale[:500]):
        if report_notify(report_id=pk, now=now) is not None:
            notified += 1
    return {"published": published, "notified": notified}


@transaction.atomic
def report_respond(*, actor: User, report: AuditReport, body: str) -> AuditReport:
    """The audited company's response: private to the report's readers while under embargo,
    published beside the report. It can be revised until publication; after it, a response
    can still be given if there was none, but not changed."""
    report = _locked(report)
    if not _allowed(actor, "audits.respond_to_report", report):
        raise NotAllowed("Only the audited company's editors and owners can respond.")
    body = _text("company_response", body, required=True)
    if report.is_published and report.company_response:
        raise Conflict("The response was published with the report and is on the record.")
    revised = bool(report.company_response)
    report.company_response = body
    report.company_responded_at = timezone.now()
    report.company_responded_by = actor
    report.save(
        update_fields=[
            "company_response",
            "company_responded_at",
            "company_responded_by",
            "updated_at",
        ]
    )
    payload: dict[str, Any] = {"revised": revised}
    if report.is_published:
        payload["sha256"] = hashlib.sha256(body.encode("utf-8")).hexdigest()
    ledger_append(actor=actor, action="audit_report.company_responded", subject=report,
                  payload=payload)  # fmt: skip
    recipients = _people(
        report.auditor, (Membership.Role.OWNER, Membership.Role.EDITOR, Membership.Role.MEMBER)
    )
    transaction.on_commit(lambda: _mail("company_responded", report, recipients))
    return report


# --- Findings after submission ----------------------------------------------------------------


def _locked_finding(finding: Finding) -> Finding:
    return (
        Finding.objects.select_for_update(of=("self",))
        .select_related("report__auditor", "report__audited", "version__policy")
        .get(pk=finding.pk)
    )


def _company_acts(actor: Any, finding: Finding) -> None:
    if not _allowed(actor, "audits.respond_to_report", finding.report):
        if finding.report.is_draft:
            raise Conflict("The report has not been submitted yet.", code="state")
        raise NotAllowed("Only the audited company's editors and owners can answer a finding.")


def _finding_event(finding: Finding, *, actor: User, action: str, note: str, at: datetime) -> None:
    FindingEvent.objects.create(
        finding=finding,
        action=action,
        status=finding.status,
        actor=actor,
        organization=finding.report.audited,
        note=note,
        at=at,
    )
    payload: dict[str, Any] = {"report": finding.report_id, "status": finding.status}
    if finding.report.is_published:
        payload["note_sha256"] = hashlib.sha256(note.encode("utf-8")).hexdigest() if note else ""
    ledger_append(actor=actor, action=f"finding.{action}", subject=finding, payload=payload)


@transaction.atomic
def finding_acknowledge(*, actor: User, finding: Finding, note: str = "") -> Finding:
    finding = _locked_finding(finding)
    _company_acts(actor, finding)
    if finding.status != Finding.Status.OPEN:
        raise Conflict(f"This finding is {finding.get_status_display().lower()}.", code="state")
    note = _text("note", note, required=False)
    now = timezone.now()
    finding.status = Finding.Status.ACKNOWLEDGED
    finding.acknowledged_at = now
    if note:
        finding.company_response = note
    finding.save(update_fields=["status", "acknowledged_at", "company_response"])
    _finding_event(finding, actor=actor, action="acknowledged", note=note, at=now)
    return finding


def _changed_clause(finding: Finding, version: PolicyVersion) -> bool:
    from policies.selectors import version_diff

    diff = version_diff(old=finding.version, new=version)
    return any(
        finding.clause_key in (change.key, change.old_key)
        for change in diff.changes
        if change.kind in ("changed", "removed", "rekeyed")
    )


@transaction.atomic
def finding_remediate(
    *,
    actor: User,
    finding: Finding,
    note: str,
    version: PolicyVersion | None = None,
    run: EvaluationRun | None = None,
) -> Finding:
    """The company shows the fix: a later published version of the policy in which the clause
    changed, and/or a later complete evaluation run of its AI system."""
    finding = _locked_finding(finding)
    _company_acts(actor, finding)
    if finding.status not in (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED):
        raise Conflict(f"This finding is {finding.get_status_display().lower()}.", code="state")
    note = _text("note", note, required=True)
    if version is None and run is None:
        raise _invalid("version", "Link the later policy version or evaluation run that shows it.")
    if version is not None:
        earlier = finding.version
        if (
            version.policy_id != earlier.policy_id
            or version.status
            not in (PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED)
            or (version.major, version.minor, version.patch)
            <= (earlier.major, earlier.minor, earlier.patch)
        ):
            raise _invalid(
                "version",
                f"Choose a published version of {earlier.policy.title} later than "
                f"{earlier.number}.",
            )
        if not _changed_clause(finding, version):
            raise _invalid(
                "version",
                f"Clause {finding.clause_key} is the same in {version.number} as in "
                f"{earlier.number}: that version does not change it.",
            )
    if run is not None:
        if (
            run.status != EvaluationRun.Status.COMPLETE
            or run.system.organization_id != finding.report.audited_id
        ):
            raise _invalid("run", "Choose a complete evaluation run of the company's AI system.")
        if run.uploaded_at <= finding.report.submitted_at:
            raise _invalid("run", "Choose a run uploaded after the report was submitted.")
    now = timezone.now()
    finding.status = Finding.Status.REMEDIATED
    finding.remediated_at = now
    finding.remediated_version = version
    finding.remediated_run = run
    finding.company_response = note
    finding.save(
        update_fields=[
            "status",
            "remediated_at",
            "remediated_version",
            "remediated_run",
            "company_response",
        ]
    )
    _finding_event(finding, actor=actor, action="remediated", note=note, at=now)
    return finding


@transaction.atomic
def finding_dispute(*, actor: User, finding: Finding, reason: str) -> Finding:
    """The company disputes the finding; its reason is public with the report."""
    finding = _locked_finding(finding)
    _company_acts(actor, finding)
    if finding.status not in (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED):
        raise Conflict(f"This finding is {finding.get_status_display().lower()}.", code="state")
    try:
        reason = _text("note", reason, required=True)
    except Invalid as error:
        raise _invalid("reason", "Give the reason for the dispute.") from error
    now = timezone.now()
    finding.status = Finding.Status.DISPUTED
    finding.disputed_at = now
    finding.company_response = reason
    finding.save(update_fields=["status", "disputed_at", "company_response"])
    _finding_event(finding, actor=actor, action="disputed", note=reason, at=now)
    return finding
