"""Audit report pages: the list, a report (with the auditor's and the company's actions), its
findings and their timelines, PDF attachments (always downloads), and companies' scorecards.
Thin: each POST validates a form, calls one service and redirects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audits import report_selectors as selectors
from audits import report_services as services
from audits.models import AuditReport, Finding, ReportAttachment
from audits.report_forms import (
    AcknowledgeForm,
    AttachmentForm,
    DisputeForm,
    EmbargoForm,
    FindingForm,
    RemediateForm,
    ReportForm,
    ResponseForm,
    SubmitForm,
)
from governance.errors import DomainError
from governance.forms import add_domain_error
from governance.idempotency import once_per_form_token
from governance.models import Membership, Organization

PAGE = 30


def _report(request: HttpRequest, pk: int) -> AuditReport:
    report = selectors.report_detail(request.user, pk)
    if report is None:
        raise Http404("No such audit report (or it is not yours to see yet).")
    return report


def _finding(request: HttpRequest, pk: int) -> Finding:
    finding = selectors.finding_detail(request.user, pk)
    if finding is None:
        raise Http404("No such finding (or it is not yours to see yet).")
    return finding


def _auditor_orgs(user) -> list[Organization]:
    if not user.is_authenticated:
        return []
    memberships = Membership.objects.filter(
        user=user, organization__kind=Organization.Kind.AUDITOR
    ).select_related("organization")
    return [
        m.organization for m in memberships if user.has_perm("audits.create_report", m.organization)
    ]


@require_safe
def report_list(request: HttpRequest) -> HttpResponse:
    company = request.GET.get("company", "")[:80]
    auditor = request.GET.get("auditor", "")[:80]
    opinion = request.GET.get("opinion", "")
    status = request.GET.get("status", "")
    reports = selectors.report_list(
        request.user, company=company, auditor=auditor, opinion=opinion, status=status
    )
    page = Paginator(reports, PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "reports": page.object_list,
        "company": company,
        "auditor": auditor,
        "opinion": opinion,
        "status": status,
        "companies": Organization.objects.filter(kind=Organization.Kind.DEVELOPER).order_by("name"),
        "auditors": Organization.objects.filter(kind=Organization.Kind.AUDITOR).order_by("name"),
        "opinions": AuditReport.Opinion.choices,
        "statuses": AuditReport.Status.choices,
        "can_file": bool(_auditor_orgs(request.user)),
    }
    return render(request, "audits/reports/list.html", context)


def _report_kwargs(data: dict) -> dict:
    return {
        name: data[name]
        for name in (
            "title", "versions", "systems", "system_versions", "runs", "period_start",
            "period_end", "methodology", "summary", "opinion", "embargo_days",
        )
    }  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def report_create(request: HttpRequest) -> HttpResponse:
    """Two steps that work without JavaScript: pick the auditor and the company (a GET form),
    then the report, whose scope lists that company's versions, systems and runs."""
    auditors = _auditor_orgs(request.user)
    companies = Organization.objects.filter(
        kind=Organization.Kind.DEVELOPER, verified_at__isnull=False
    ).order_by("name")
    source = request.POST if request.method == "POST" else request.GET
    auditor = next((o for o in auditors if o.slug == source.get("auditor")), None)
    audited = companies.filter(slug=source.get("audited", "")[:80]).first()
    if len(auditors) == 1 and auditor is None:
        auditor = auditors[0]
    form = None
    if auditor is not None and audited is not None:
        form = ReportForm(request.POST if request.method == "POST" else None, audited=audited)
        if request.method == "POST" and form.is_valid():
            try:
                report = services.report_create(
                    actor=request.user,
                    auditor=auditor,
                    audited=audited,
                    **_report_kwargs(form.cleaned_data),
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(request, "The draft is saved. Only your organization sees it.")
                return redirect("reports:detail", pk=report.pk)
    context = {
        "auditors": auditors,
        "companies": companies,
        "auditor": auditor,
        "audited": audited,
        "form": form,
    }
    status = 400 if form is not None and form.errors else 200
    return render(request, "audits/reports/form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def report_edit(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    if not selectors.can(request.user, "audits.edit_report", report):
        if not report.is_draft:
            messages.error(request, "This report was submitted; its content can no longer change.")
            return redirect("reports:detail", pk=report.pk)
        raise Http404("No such draft.")
    initial = {
        "title": report.title,
        "versions": list(report.versions.all()),
        "systems": list(report.systems.all()),
        "system_versions": "\n".join(report.system_versions),
        "runs": list(report.runs.all()),
        "period_start": report.period_start,
        "period_end": report.period_end,
        "opinion": report.opinion,
        "summary": report.summary,
        "methodology": report.methodology,
        "embargo_days": report.embargo_days,
    }
    form = ReportForm(
        request.POST if request.method == "POST" else None, initial=initial, audited=report.audited
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.report_update(
                actor=request.user, report=report, **_report_kwargs(form.cleaned_data)
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "The draft is saved.")
            return redirect("reports:detail", pk=report.pk)
    context = {"report": report, "form": form, "auditor": report.auditor, "audited": report.audited}
    return render(request, "audits/reports/form.html", context, status=400 if form.errors else 200)


def _detail_context(request: HttpRequest, report: AuditReport, **forms) -> dict:
    user = request.user
    can_edit = selectors.can(user, "audits.edit_report", report)
    can_disclose = selectors.can(user, "audits.manage_disclosure", report)
    can_respond = selectors.can(user, "audits.respond_to_report", report)
    findings = list(report.findings.all())
    embargo_initial = (
        {"embargo_until": report.embargo_until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")}
        if report.embargo_until
        else {}
    )
    limits = settings.OPENREFUSAL
    context = {
        "report": report,
        "embargo_latest": report.notified_at + timedelta(days=limits["AUDIT_EMBARGO_MAX_DAYS"])
        if report.notified_at
        else None,
        "embargo_earliest": report.notified_at + timedelta(days=limits["AUDIT_EMBARGO_MIN_DAYS"])
        if report.notified_at and not report.company_responded_at
        else None,
        "findings": [(f, selectors.is_overdue(f)) for f in findings],
        "can_edit": can_edit,
        "can_disclose": can_disclose,
        "can_respond": can_respond and not (report.is_published and report.company_response),
        "finding_form": forms.get("finding_form")
        or (FindingForm(report=report) if can_edit else None),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "submit_form": forms.get("submit_form") or SubmitForm(),
        "embargo_form": forms.get("embargo_form") or EmbargoForm(initial=embargo_initial),
        "response_form": forms.get("response_form")
        or ResponseForm(initial={"body": report.company_response}),
        "clause_keys": sorted({c.key for v in report.versions.all() for c in v.clauses.all()})
        if can_edit
        else [],
        "severities": Finding.Severity.choices,
    }
    return context


@require_safe
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return render(request, "audits/reports/detail.html", _detail_context(request, report))


def _again(request, report, status=400, **forms) -> HttpResponse:
    context = _detail_context(request, report, **forms)
    return render(request, "audits/reports/detail.html", context, status=status)


def _detail_url(report: AuditReport, anchor: str = "") -> str:
    return reverse("reports:detail", args=[report.pk]) + anchor


def _form_post(
    request: HttpRequest,
    report: AuditReport,
    *,
    form_name: str,
    form,
    write: Callable[[dict], Any],
    success: str | Callable[[Any], str],
    anchor: str = "",
) -> HttpResponse:
    """The report page's forms: validate, make the one service call `write` makes with the
    cleaned data, then redirect with `success` — or show the report again (400) with the
    service's errors inline on that form."""
    if form.is_valid():
        try:
            result = write(form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, success(result) if callable(success) else success)
            return redirect(_detail_url(report, anchor))
    return _again(request, report, **{form_name: form})


def _button_post(
    request: HttpRequest, write: Callable[[], Any], *, success: str, then: str
) -> HttpResponse:
    """The one-button forms (publish, delete): the service's refusal, or `success`, as a
    message after the redirect to `then`."""
    try:
        write()
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect(then)


@login_required
@require_POST
@once_per_form_token
def finding_create(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _form_post(
        request,
        report,
        form_name="finding_form",
        form=FindingForm(request.POST, report=report),
        write=lambda data: services.finding_add(
            actor=request.user,
            report=report,
            title=data["title"],
            version=data["version"],
            clause_key=data["clause_key"],
            severity=data["severity"],
            criterion=data["criterion"],
            observed=data["observed"],
            recommendation=data["recommendation"],
            target_date=data["target_date"],
            runs=list(data["runs"]),
            sample_ids=data["sample_ids"],
            withhold_samples=data["withhold_samples"],
        ),
        success=lambda finding: f"Finding {finding.number} is added to the draft.",
        anchor="#findings",
    )


@login_required
@require_POST
@once_per_form_token
def finding_delete(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    return _button_post(
        request,
        lambda: services.finding_remove(actor=request.user, finding=finding),
        success=f"Finding {finding.number} is removed from the draft.",
        then=_detail_url(finding.report, "#findings"),
    )


@login_required
@require_POST
@once_per_form_token
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _form_post(
        request,
        report,
        form_name="attachment_form",
        form=AttachmentForm(request.POST, request.FILES),
        write=lambda data: services.attachment_add(
            actor=request.user, report=report, upload=data["file"]
        ),
        success="The PDF is attached.",
        anchor="#attachments",
    )


@login_required
@require_POST
@once_per_form_token
def attachment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = get_object_or_404(ReportAttachment.objects.select_related("report"), pk=pk)
    report = _report(request, attachment.report_id)
    return _button_post(
        request,
        lambda: services.attachment_remove(actor=request.user, attachment=attachment),
        success=f"{attachment.name} is removed.",
        then=_detail_url(report, "#attachments"),
    )


@require_safe
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    """Always a download, never shown inline: a PDF from outside is not rendered in our origin."""
    attachment = get_object_or_404(ReportAttachment, pk=pk)
    _report(request, attachment.report_id)  # 404 unless the reader may see the report
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-SHA256"] = attachment.sha256
    return response


@login_required
@require_POST
@once_per_form_token
def report_submit(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _form_post(
        request,
        report,
        form_name="submit_form",
        form=SubmitForm(request.POST),
        write=lambda data: services.report_submit(actor=request.user, report=report, **data),
        success=f"The report is submitted. {report.audited.name} is notified and the embargo "
        "starts now.",
    )


@login_required
@require_POST
@once_per_form_token
def report_delete(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    try:
        services.report_draft_delete(actor=request.user, report=report)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(_detail_url(report))
    messages.success(request, "The draft is deleted.")
    return redirect("reports:list")


def _utc(moment: datetime) -> datetime:
    # The form's field is labelled UTC: a naive value is read as UTC, not the server's zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@login_required
@require_POST
@once_per_form_token
def report_embargo(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _form_post(
        request,
        report,
        form_name="embargo_form",
        form=EmbargoForm(request.POST),
        write=lambda data: services.report_set_embargo(
            actor=request.user,
            report=report,
            until=_utc(data["embargo_until"]),
            reason=data["reason"],
        ),
        success="The embargo is changed, on the record.",
    )


@login_required
@require_POST
@once_per_form_token
def report_publish(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _button_post(
        request,
        lambda: services.report_publish(actor=request.user, report=report),
        success="The report is published.",
        then=_detail_url(report),
    )


@login_required
@require_POST
@once_per_form_token
def report_respond(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _form_post(
        request,
        report,
        form_name="response_form",
        form=ResponseForm(request.POST),
        write=lambda data: services.report_respond(
            actor=request.user, report=report, body=data["body"]
        ),
        success="Your response is saved.",
        anchor="#response",
    )


def _finding_context(request: HttpRequest, finding: Finding, **forms) -> dict:
    report = finding.report
    can_act = (
        selectors.can(request.user, "audits.respond_to_report", report) and not finding.is_closed
    )
    return {
        "finding": finding,
        "report": report,
        "overdue": selectors.is_overdue(finding),
        "timeline": selectors.finding_timeline(finding),
        "samples": list(finding.samples.all()),
        "shows_withheld": selectors.shows_withheld_samples(request.user, report),
        "can_act": can_act,
        "acknowledge_form": forms.get("acknowledge_form") or AcknowledgeForm(),
        "remediate_form": forms.get("remediate_form")
        or (RemediateForm(finding=finding) if can_act else None),
        "dispute_form": forms.get("dispute_form") or DisputeForm(),
    }


@require_safe
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    return render(request, "audits/reports/finding.html", _finding_context(request, finding))


@login_required
@require_POST
@once_per_form_token
def finding_answer(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The company acknowledges, remediates or disputes a finding."""
    finding = _finding(request, pk)
    forms_by_action = {
        "acknowledge": ("acknowledge_form", AcknowledgeForm(request.POST)),
        "remediate": ("remediate_form", RemediateForm(request.POST, finding=finding)),
        "dispute": ("dispute_form", DisputeForm(request.POST)),
    }
    if action not in forms_by_action:
        raise Http404("No such action.")
    name, form = forms_by_action[action]
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action == "acknowledge":
                services.finding_acknowledge(actor=request.user, finding=finding, note=data["note"])
            elif action == "remediate":
                services.finding_remediate(
                    actor=request.user,
                    finding=finding,
                    note=data["note"],
                    version=data["version"],
                    run=data["run"],
                )
            else:
                services.finding_dispute(actor=request.user, finding=finding, reason=data["reason"])
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Your answer to the finding is on the record.")
            return redirect("reports:finding", pk=finding.pk)
    context = _finding_context(request, finding, **{name: form})
    if not context["can_act"]:
        # The answer forms are not shown for a closed finding: say why here instead.
        context["answer_errors"] = form.non_field_errors()
    return render(request, "audits/reports/finding.html", context, status=400)


def scorecard_chart(card: selectors.Scorecard) -> dict:
    """Geometry of a horizontal stacked bar per severity (findings by status), for an SVG drawn
    on the server: readable without JavaScript, with the same figures in a table beside it."""
    width, label_w, bar_h, gap = 560, 90, 26, 12
    biggest = max([row[3] for row in card.rows] + [1])
    scale = (width - label_w - 50) / biggest
    bars = []
    for index, (_value, label, counts, total) in enumerate(card.rows):
        y = index * (bar_h + gap)
        x = label_w
        segments = []
        for status, count in zip(Finding.Status.values, counts, strict=True):
            if count:
                segments.append(
                    {"x": round(x, 1), "width": round(count * scale, 1), "status": status,
                     "count": count}
                )  # fmt: skip
                x += count * scale
        bars.append(
            {"label": label, "y": y, "text_y": y + bar_h * 0.68, "segments": segments,
             "total": total, "total_x": round(x + 6, 1)}
        )  # fmt: skip
    names = dict(Finding.Status.choices)
    description = " ".join(
        f"{label}: {total} ("
        + ", ".join(
            f"{names[status].lower()} {count}"
            for status, count in zip(Finding.Status.values, counts, strict=True)
        )
        + ")."
        for _value, label, counts, total in card.rows
    )
    return {
        "description": description,
        "width": width,
        "height": len(bars) * (bar_h + gap),
        "bar_h": bar_h,
        "bars": bars,
        "statuses": Finding.Status.choices,
    }


@require_safe
def scorecard_index(request: HttpRequest) -> HttpResponse:
    return render(
        request, "audits/reports/scorecards.html", {"companies": selectors.audited_companies()}
    )


@require_safe
def scorecard(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug, kind=Organization.Kind.DEVELOPER)
    card = selectors.scorecard(organization)
    context = {"card": card, "organization": organization, "chart": scorecard_chart(card)}
    return render(request, "audits/reports/scorecard.html", context)
