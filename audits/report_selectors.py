"""Reads of audit reports and findings that the pages and the API share: what each person may
see, a report with its findings, a finding's timeline, and a company's public scorecard."""

from __future__ import annotations

import statistics
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import rules
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from audits.models import AuditReport, EvaluationSample, Finding
from governance.models import ApiToken, Membership, Organization

OPEN_STATUSES = (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED)


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", False)
    )


def visible_reports_filter(user: Any, *, token_scopes: Collection[str] | None = None) -> Q:
    """Published reports for everyone; drafts for the auditor's organization; submitted and
    embargoed reports also for the audited company and regulators (as `audits.view_report`).

    `token_scopes` is None for a signed-in session (role-based access only). A request made
    with an API token reads what the role allows before publication only when the token has
    `read:embargoed`; without it, a token with `write:audits` keeps the parties' own reports
    (the auditor files them, the company answers them) and any other token sees published
    reports only."""
    visible = Q(status=AuditReport.Status.PUBLISHED)
    if not _signed_in(user):
        return visible
    full = token_scopes is None or ApiToken.Scope.READ_EMBARGOED in token_scopes
    if not full and ApiToken.Scope.WRITE_AUDITS not in token_scopes:
        return visible
    memberships = Membership.objects.filter(user=user)
    mine = memberships.values("organization_id")
    visible |= Q(auditor_id__in=mine)
    not_draft = ~Q(status=AuditReport.Status.DRAFT)
    visible |= not_draft & Q(audited_id__in=mine)
    if (
        full
        and memberships.filter(
            organization__kind=Organization.Kind.REGULATOR, organization__verified_at__isnull=False
        ).exists()
    ):
        visible |= not_draft
    return visible


def reports_for(user: Any) -> QuerySet[AuditReport]:
    return (
        AuditReport.objects.filter(visible_reports_filter(user))
        .select_related("auditor", "audited")
        .annotate(finding_count=Count("findings", distinct=True))
    )


def report_list(
    user: Any,
    *,
    company: str = "",
    auditor: str = "",
    opinion: str = "",
    status: str = "",
) -> QuerySet[AuditReport]:
    reports = reports_for(user)
    if company:
        reports = reports.filter(audited__slug=company)
    if auditor:
        reports = reports.filter(auditor__slug=auditor)
    if opinion in AuditReport.Opinion.values:
        reports = reports.filter(opinion=opinion)
    if status in AuditReport.Status.values:
        reports = reports.filter(status=status)
    return reports.order_by("-published_at", "-submitted_at", "-created_at", "-id")


def report_detail(user: Any, pk: Any) -> AuditReport | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return (
        AuditReport.objects.filter(visible_reports_filter(user), pk=pk)
        .select_related("auditor", "audited", "company_responded_by", "declared_by")
        .prefetch_related(
            "versions__policy",
            "systems",
            "runs__system",
            "attachments",
            Prefetch(
                "findings",
                queryset=Finding.objects.select_related(
                    "version__policy", "remediated_version", "remediated_run"
                ).order_by("number"),
            ),
        )
        .first()
    )


def finding_detail(user: Any, pk: Any) -> Finding | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return (
        Finding.objects.filter(pk=pk, report__in=AuditReport.objects.filter(
            visible_reports_filter(user)))
        .select_related(
            "report__auditor",
            "report__audited",
            "version__policy__organization",
            "remediated_version__policy",
            "remediated_run__system",
        )
        .prefetch_related(
            "runs__system",
            Prefetch("samples", queryset=EvaluationSample.objects.select_related("run")),
            "events__actor",
        )
        .first()
    )  # fmt: skip


def findings_for(user: Any) -> QuerySet[Finding]:
    return (
        Finding.objects.filter(report__in=AuditReport.objects.filter(visible_reports_filter(user)))
        .select_related("report__auditor", "report__audited", "version__policy")
        .order_by("-report__submitted_at", "report_id", "number")
    )


def is_overdue(finding: Finding, today: date | None = None) -> bool:
    """Open or acknowledged past its target date."""
    today = today or timezone.now().date()
    return finding.status in OPEN_STATUSES and finding.target_date < today


def shows_withheld_samples(user: Any, report: AuditReport) -> bool:
    return _signed_in(user) and rules.has_perm("audits.view_withheld_findings", user, report)


def can(user: Any, permission: str, report: AuditReport) -> bool:
    return _signed_in(user) and rules.has_perm(permission, user, report)


@dataclass
class TimelineStep:
    at: datetime
    label: str
    note: str = ""
    who: str = ""


def finding_timeline(finding: Finding) -> list[TimelineStep]:
    """The report's milestones that concern the finding, then the company's steps on it."""
    report = finding.report
    steps = [TimelineStep(report.submitted_at, f"Reported by {report.auditor.name}")]
    if report.notified_at:
        steps.append(TimelineStep(report.notified_at, f"{report.audited.name} notified"))
    if report.published_at:
        steps.append(TimelineStep(report.published_at, "Report published"))
    for event in finding.events.all():
        steps.append(
            TimelineStep(
                event.at,
                event.get_status_display(),
                event.note,
                event.actor.public_name if event.actor else "",
            )
        )
    return sorted(steps, key=lambda s: s.at)


# --- The public scorecard ---------------------------------------------------------------------


@dataclass
class Scorecard:
    organization: Organization
    reports: list[AuditReport]
    # severity → status → count, over the findings of published reports.
    matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    total: int = 0
    overdue: int = 0
    median_days_to_acknowledge: float | None = None
    median_days_to_remediate: float | None = None
    acknowledged_count: int = 0
    remediated_count: int = 0
    opinions: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> list[tuple[str, str, list[int], int]]:
        """(severity, label, counts in status order, row total) for the table and chart."""
        out = []
        for value, label in Finding.Severity.choices:
            counts = [self.matrix.get(value, {}).get(s, 0) for s in Finding.Status.values]
            out.append((value, label, counts, sum(counts)))
        return out


def _days(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0) / 86400


def scorecard(organization: Organization, today: date | None = None) -> Scorecard:
    """Findings of the company's published reports by severity and status, the medians of the
    days from notice to acknowledgement and to remediation, and the overdue count."""
    today = today or timezone.now().date()
    reports = list(
        AuditReport.objects.filter(audited=organization, status=AuditReport.Status.PUBLISHED)
        .select_related("auditor")
        .annotate(finding_count=Count("findings"))
        .order_by("-published_at")
    )
    card = Scorecard(organization=organization, reports=reports)
    findings = Finding.objects.filter(
        report__audited=organization, report__status=AuditReport.Status.PUBLISHED
    ).values(
        "severity",
        "status",
        "target_date",
        "acknowledged_at",
        "remediated_at",
        "report__notified_at",
    )
    acknowledge, remediate = [], []
    for row in findings:
        card.total += 1
        card.matrix.setdefault(row["severity"], {}).setdefault(row["status"], 0)
        card.matrix[row["severity"]][row["status"]] += 1
        if row["status"] in OPEN_STATUSES and row["target_date"] < today:
            card.overdue += 1
        days = _days(row["report__notified_at"], row["acknowledged_at"])
        if days is not None:
            acknowledge.append(days)
        days = _days(row["report__notified_at"], row["remediated_at"])
        if days is not None:
            remediate.append(days)
    card.acknowledged_count, card.remediated_count = len(acknowledge), len(remediate)
    if acknowledge:
        card.median_days_to_acknowledge = round(statistics.median(acknowledge), 1)
    if remediate:
        card.median_days_to_remediate = round(statistics.median(remediate), 1)
    for report in reports:
        card.opinions[report.opinion] = card.opinions.get(report.opinion, 0) + 1
    return card


def audited_companies(today: date | None = None) -> QuerySet[Organization]:
    """Developers with at least one published report (the scorecards' index), each with its
    published reports, their findings, the open ones and the overdue ones (one query)."""
    today = today or timezone.now().date()
    published = AuditReport.objects.filter(
        audited=OuterRef("pk"), status=AuditReport.Status.PUBLISHED
    )
    in_published = Q(audit_reports_received__status=AuditReport.Status.PUBLISHED)
    still_open = in_published & Q(audit_reports_received__findings__status__in=OPEN_STATUSES)
    return (
        Organization.objects.filter(Exists(published))
        .annotate(
            published_reports=Count("audit_reports_received", filter=in_published, distinct=True),
            published_findings=Count(
                "audit_reports_received__findings", filter=in_published, distinct=True
            ),
            open_findings=Count(
                "audit_reports_received__findings", filter=still_open, distinct=True
            ),
            overdue_findings=Count(
                "audit_reports_received__findings",
                filter=still_open & Q(audit_reports_received__findings__target_date__lt=today),
                distinct=True,
            ),
        )
        .order_by("name")
    )


# --- Findings under each clause of a version page ---------------------------------------------

SEVERITY_RANK = {value: rank for rank, value in enumerate(Finding.Severity.values)}


@dataclass
class ClauseFindings:
    """The published findings on one clause key up to the page's version: the open ones (open
    or acknowledged) with the worst severity among them, and how many are closed."""

    findings: list[dict]
    open_count: int
    closed_count: int
    worst: str | None
    worst_label: str | None


def clause_findings_extras(clauses: list) -> dict[int, ClauseFindings]:
    """For `{% clause_extras %}` on a version page: one query for every clause of the page.
    A finding follows its clause key through the policy's versions (keys are stable), so a
    finding on 1.1.0 still shows on 2.0.0 until it is closed; findings filed on later versions
    do not show on earlier ones. Only published reports' findings: the page is public."""
    from django.db.models import Subquery
    from django.urls import reverse

    from policies.models import PolicyVersion

    keyed = [c for c in clauses if getattr(c, "pk", None) is not None]
    version_id = next((c.version_id for c in keyed), None)
    if version_id is None:
        return {}
    page = PolicyVersion.objects.filter(pk=version_id)
    major, minor, patch = (Subquery(page.values(part)[:1]) for part in ("major", "minor", "patch"))
    not_later = (
        Q(version__major__lt=major)
        | Q(version__major=major, version__minor__lt=minor)
        | Q(version__major=major, version__minor=minor, version__patch__lte=patch)
    )
    rows = (
        Finding.objects.filter(
            not_later,
            report__status=AuditReport.Status.PUBLISHED,
            clause_key__in={c.key for c in keyed},
            version__policy_id=Subquery(page.values("policy_id")[:1]),
        )
        .values(
            "pk", "number", "title", "severity", "status", "target_date", "clause_key",
            "report_id", "report__auditor__name", "version__major", "version__minor",
            "version__patch",
        )
        .order_by("clause_key", "-report__published_at", "number")
    )  # fmt: skip
    today = timezone.now().date()
    by_key: dict[str, list[dict]] = {}
    for row in rows:
        row["is_open"] = row["status"] in OPEN_STATUSES
        row["overdue"] = row["is_open"] and row["target_date"] < today
        row["url"] = reverse("reports:finding", args=[row["pk"]])
        row["version"] = "{version__major}.{version__minor}.{version__patch}".format(**row)
        by_key.setdefault(row["clause_key"], []).append(row)
    severities, statuses = dict(Finding.Severity.choices), dict(Finding.Status.choices)
    extras = {}
    for clause in keyed:
        found = by_key.get(clause.key)
        if not found:
            continue
        for row in found:
            row["severity_label"] = severities[row["severity"]]
            row["status_label"] = statuses[row["status"]]
        still_open = [row for row in found if row["is_open"]]
        worst = min((row["severity"] for row in still_open), key=SEVERITY_RANK.get, default=None)
        extras[clause.pk] = ClauseFindings(
            findings=sorted(found, key=lambda r: (not r["is_open"], SEVERITY_RANK[r["severity"]])),
            open_count=len(still_open),
            closed_count=len(found) - len(still_open),
            worst=worst,
            worst_label=severities[worst] if worst else None,
        )
    return extras
