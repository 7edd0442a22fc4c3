"""Appeal pages: filing (four steps, htmx-enhanced, whole without JavaScript), the filer's
appeals, the company's review queue, the panel's queue, an appeal with its timeline and the
actions the table allows the reader, published decisions, recommendations and the company's
answers, transparency reports, and the workflow table. Thin: each POST validates a form,
calls one service and redirects."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from appeals import forms as appeal_forms
from appeals import selectors, services, workflow
from appeals.models import (
    Appeal,
    Decision,
    Kind,
    Outcome,
    Recommendation,
    RejectionReason,
    Status,
)
from appeals.rules import panel_admin_organizations, roles_of
from governance.errors import DomainError, Invalid
from governance.forms import add_domain_error
from governance.idempotency import once_per_form_token
from governance.models import Organization
from policies.models import Clause, PolicyVersion

PAGE = 30


def _param(request: HttpRequest, name: str, limit: int = 120) -> str:
    """A text query parameter, cut to `limit` and without NUL bytes (which PostgreSQL's text
    cannot hold: a filter carrying one would fail in the database)."""
    return request.GET.get(name, "").replace("\x00", "")[:limit]


def _appeal(request: HttpRequest, pk: int) -> Appeal:
    appeal = selectors.appeal_detail(request.user, pk)
    if appeal is None:
        raise Http404("No such appeal (or it is not yours to see).")
    return appeal


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "decisions": list(selectors.published_decisions()[:5]),
        "overdue": list(selectors.overdue_public(now=now)[:10]),
        "companies": selectors.companies_with_appeals(),
        "reviews": bool(
            request.user.is_authenticated and selectors.reviewer_organizations(request.user)
        ),
        "panels": bool(panel_admin_organizations(request.user)),
        "now": now,
        "ack_days": workflow.DEADLINES["ack"].days,
        "decision_days": workflow.DEADLINES["decision"].days,
    }
    return render(request, "appeals/index.html", context)


# --- Filing -----------------------------------------------------------------------------------


def _filing_context(form: appeal_forms.FilingForm, step: int, preview: dict | None) -> dict:
    return {
        "form": form,
        "step": step,
        "steps": appeal_forms.STEP_TITLES,
        "step_title": appeal_forms.STEP_TITLES[step],
        "visible": form.fields_of(step),
        "hidden": form.hidden_fields_except(step),
        "preview": preview,
    }


def _render_filing(request, form, step, preview=None, status=200) -> HttpResponse:
    context = _filing_context(form, step, preview)
    template = "appeals/file.html#filing-form" if request.htmx else "appeals/file.html"
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def appeal_file(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("appeals.file_appeal"):
        messages.error(request, "Confirm your e-mail address before filing an appeal.")
        return redirect("account_email")
    if request.method == "GET":
        initial = {"occurred_at": timezone.now().astimezone(UTC).replace(second=0, microsecond=0)}
        system = _param(request, "system")
        if system.isdigit():
            initial["system"] = system
        return _render_filing(request, appeal_forms.FilingForm(initial=initial), 1)
    try:
        step = max(1, min(4, int(request.POST.get("step", "1"))))
    except ValueError:
        step = 1
    if request.POST.get("go") == "back":
        back = max(1, step - 1)
        return _render_filing(request, appeal_forms.FilingForm(request.POST, step=back), back)
    form = appeal_forms.FilingForm(request.POST, request.FILES, step=step)
    if not form.is_valid():
        return _render_filing(request, form, step, _preview(form) if step == 4 else None, 400)
    if step < 4:
        form = _rebound(request, form, step + 1)
        preview = _preview(form) if step + 1 == 4 else None
        if preview is not None:
            data = form.data.copy()
            data["confirmed_redaction"] = preview["redacted"]
            form = appeal_forms.FilingForm(data, step=4)
        return _render_filing(request, form, step + 1, preview)
    data = form.cleaned_data
    try:
        appeal = services.appeal_file(
            actor=request.user,
            system=data["system"],
            system_version=data.get("system_version") or "",
            version=data["version"],
            clause_key=form.clause_key(),
            kind=data["kind"],
            transcript=data["transcript"],
            confirmed_redaction=data.get("confirmed_redaction") or "",
            names=form.name_list(),
            requested_outcome=data["requested_outcome"],
            occurred_at=data["occurred_at"],
            consent_to_publish=bool(data.get("consent_to_publish")),
        )
    except DomainError as error:
        add_domain_error(form, error)
        preview = _preview(form)
        if preview is not None and "confirmed_redaction" in error.fields:
            # Show the redaction as it is now, to be confirmed again.
            data = form.data.copy()
            data["confirmed_redaction"] = preview["redacted"]
            data.pop("confirm", None)
            form = appeal_forms.FilingForm(data, step=4)
            form.is_valid()
        return _render_filing(request, form, 4, preview, 400)
    messages.success(
        request,
        f"Appeal #{appeal.pk} is filed. {appeal.organization.name} must acknowledge it by "
        f"{appeal.ack_due_at:%d %b %Y} and decide by {appeal.decision_due_at:%d %b %Y}.",
    )
    response = redirect("appeals:detail", pk=appeal.pk)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("appeals:detail", args=[appeal.pk])
    return response


def _rebound(
    request: HttpRequest, form: appeal_forms.FilingForm, step: int
) -> appeal_forms.FilingForm:
    """The same data as a fresh form for `step` (a transcript read from an upload replaces
    the paste), not validated, so the new step shows no errors yet."""
    data = request.POST.copy()
    cleaned = getattr(form, "cleaned_data", {}) or {}
    if cleaned.get("transcript"):
        data["transcript"] = cleaned["transcript"]
    return appeal_forms.FilingForm(data, step=step)


def _preview(form: appeal_forms.FilingForm) -> dict | None:
    transcript = form.data.get("transcript") or ""
    names = [line.strip() for line in (form.data.get("names") or "").splitlines()]
    try:
        return services.appeal_redaction_preview(transcript=transcript, names=names)
    except DomainError:
        return None


@require_safe
def clause_options(request: HttpRequest) -> HttpResponse:
    """The clause picker's options for a version, filtered by `q` (the htmx search)."""
    version = request.GET.get("version", "")
    q = _param(request, "q", 100).strip()
    clauses = Clause.objects.none()
    if version.isdigit():
        clauses = Clause.objects.filter(
            version_id=version,
            version__status__in=(PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED),
        )
        if q:
            clauses = (
                clauses.filter(title__icontains=q)
                | clauses.filter(key__icontains=q)
                | (clauses.filter(text__icontains=q))
            )
    return render(
        request,
        "appeals/_clause_options.html",
        {"clauses": clauses.order_by("position")[:200], "selected": _param(request, "clause")},
    )


# --- Lists ------------------------------------------------------------------------------------


def _with_overdue(appeals, now) -> list[tuple[Appeal, bool]]:
    return [(a, workflow.is_overdue(a, now)) for a in appeals]


@login_required
@require_safe
def my_appeals(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    page = Paginator(selectors.my_appeals(request.user), PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "appeals/mine.html",
        {"page": page, "rows": _with_overdue(page.object_list, now), "now": now},
    )


@login_required
@require_safe
def company_queue(request: HttpRequest) -> HttpResponse:
    organizations = selectors.reviewer_organizations(request.user)
    if not organizations:
        raise Http404("Only a company's editors and owners have a review queue.")
    status = _param(request, "status")
    now = timezone.now()
    qs = selectors.company_queue(request.user, status=status)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "appeals/review_queue.html",
        {
            "page": page,
            "rows": _with_overdue(page.object_list, now),
            "organizations": organizations,
            "status": status,
            "statuses": Status.choices,
            "now": now,
        },
    )


@login_required
@require_safe
def panel_queue(request: HttpRequest) -> HttpResponse:
    to_assign, seated = selectors.panel_queue(request.user)
    if not panel_admin_organizations(request.user) and not seated.exists():
        raise Http404("Only members of an appeals panel have a panel queue.")
    now = timezone.now()
    return render(
        request,
        "appeals/panel_queue.html",
        {
            "to_assign": _with_overdue(to_assign[:100], now),
            "seated": _with_overdue(seated[:100], now),
            "now": now,
        },
    )


# --- One appeal -------------------------------------------------------------------------------


def _action_forms(appeal: Appeal, actions: list[str], user, posted: dict | None = None) -> dict:
    posted = posted or {}

    def make(action, factory):
        return posted.get(action) or factory()

    forms = {}
    for action in actions:
        if action == "reject_out_of_scope":
            forms[action] = make(action, appeal_forms.RejectForm)
        elif action in ("request_info",):
            forms[action] = make(
                action, lambda: appeal_forms.RequiredNoteForm(label="Your question to the filer")
            )
        elif action == "provide_info":
            forms[action] = make(action, lambda: appeal_forms.RequiredNoteForm(label="Your answer"))
        elif action == "escalate":
            forms[action] = make(
                action,
                lambda: appeal_forms.RequiredNoteForm(
                    label="Why the panel should look at it again"
                ),
            )
        elif action == "implement":
            forms[action] = make(
                action,
                lambda: appeal_forms.RequiredNoteForm(label="How the decision was carried out"),
            )
        elif action == "decide":
            forms[action] = make(action, lambda: appeal_forms.DecisionForm(appeal=appeal))
        elif action == "summary_decision":
            forms[action] = make(
                action,
                lambda: appeal_forms.DecisionForm(
                    appeal=appeal, outcomes=("overturned", "partly_overturned")
                ),
            )
        elif action == "panel_decide":
            forms[action] = make(action, lambda: appeal_forms.PanelDecisionForm(appeal=appeal))
        elif action == "panel_vote":
            forms[action] = make(action, appeal_forms.VoteForm)
        elif action == "panel_assign":
            panels = panel_admin_organizations(user)
            candidates = [p for panel in panels for p in selectors.panel_candidates(panel, appeal)]
            forms[action] = make(
                action,
                lambda panels=panels, candidates=candidates: appeal_forms.PanelAssignForm(
                    panels=panels, candidates=candidates
                ),
            )
        else:
            forms[action] = make(action, appeal_forms.NoteForm)
    return forms


def _detail_context(request: HttpRequest, appeal: Appeal, posted: dict | None = None) -> dict:
    user = request.user
    now = timezone.now()
    roles = roles_of(user, appeal)
    actions = workflow.actions_for(appeal.status, roles)
    forms = _action_forms(appeal, actions, user, posted)
    pending = workflow.pending_deadline(appeal)
    seats = list(appeal.panel_seats.all())
    my_seat = next((s for s in seats if s.panelist_id == getattr(user, "pk", None)), None)
    context = {
        "appeal": appeal,
        "roles": roles,
        "actions": [(a, workflow.ACTION_LABELS[a], forms[a]) for a in actions],
        "raw": selectors.shows_raw(user, appeal),
        "overdue": workflow.is_overdue(appeal, now),
        "pending": pending,
        "events": list(appeal.events.all()),
        "decisions": list(appeal.decisions.all()),
        "seats": seats,
        "my_seat": my_seat,
        # Votes stay among the panel until it decides; then the decision records them.
        "votes_visible": bool(roles & {"panel", "panel_admin"})
        or appeal.status != Status.PANEL_REVIEW,
        "cite_form": None,
        "resolutions": list(appeal.resolutions.select_related("version")),
    }
    if "company" in roles and appeal.decisions.exists():
        context["cite_form"] = (posted or {}).get("cite") or appeal_forms.CiteForm(appeal=appeal)
    return context


@require_safe
def appeal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    appeal = _appeal(request, pk)
    return render(request, "appeals/detail.html", _detail_context(request, appeal))


def _form_for(action: str, appeal: Appeal, user, data) -> object:
    forms = _action_forms(appeal, [action], user)
    form = forms[action]
    return form.__class__(data, **_form_kwargs(form, appeal, action, user))


def _form_kwargs(form, appeal, action, user) -> dict:
    if action == "decide" or action == "panel_decide":
        return {"appeal": appeal}
    if action == "summary_decision":
        return {"appeal": appeal, "outcomes": ("overturned", "partly_overturned")}
    if action == "panel_assign":
        panels = panel_admin_organizations(user)
        return {
            "panels": panels,
            "candidates": [
                p for panel in panels for p in selectors.panel_candidates(panel, appeal)
            ],
        }
    if isinstance(form, appeal_forms.RequiredNoteForm):
        return {"label": form.fields["note"].label}
    return {}


def _call(action: str, appeal: Appeal, user, form) -> None:
    data = form.cleaned_data
    note = data.get("note", "")
    if action == "reject_out_of_scope":
        services.appeal_reject_out_of_scope(
            actor=user, appeal=appeal, reason=data["reason"], note=note
        )
    elif action == "request_info":
        services.appeal_request_info(actor=user, appeal=appeal, question=note)
    elif action == "provide_info":
        services.appeal_provide_info(actor=user, appeal=appeal, answer=note)
    elif action == "escalate":
        services.appeal_escalate(actor=user, appeal=appeal, reason=note)
    elif action in ("decide", "summary_decision", "panel_decide"):
        kwargs = {
            k: data.get(k)
            for k in (
                "clause_key",
                "rationale",
                "facts",
                "automation_used",
                "automation_note",
                "further_redress",
            )
        }
        if action == "decide":
            services.appeal_decide(actor=user, appeal=appeal, outcome=data["outcome"], **kwargs)
        elif action == "summary_decision":
            services.appeal_summary_decision(
                actor=user, appeal=appeal, outcome=data["outcome"], **kwargs
            )
        else:
            services.appeal_panel_decide(
                actor=user, appeal=appeal, recommendations=form.recommendations(), **kwargs
            )
    elif action == "panel_vote":
        services.appeal_panel_vote(actor=user, appeal=appeal, outcome=data["outcome"], note=note)
    elif action == "panel_assign":
        services.appeal_panel_assign(
            actor=user, appeal=appeal, panel=data["panel"], panelists=list(data["panelists"])
        )
    else:
        getattr(services, f"appeal_{action}")(actor=user, appeal=appeal, note=note)


@login_required
@require_POST
@once_per_form_token
def appeal_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    appeal = _appeal(request, pk)
    if action not in workflow.ACTIONS:
        raise Http404("No such action.")
    form = _form_for(action, appeal, request.user, request.POST)
    if form.is_valid():
        try:
            _call(action, appeal, request.user, form)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Done: {workflow.ACTION_LABELS[action].lower()}.")
            return redirect("appeals:detail", pk=appeal.pk)
    appeal = _appeal(request, pk)
    context = _detail_context(request, appeal, posted={action: form})
    if action not in {a for a, _, _ in context["actions"]}:
        # Not an action this reader has here: say why instead of showing a form.
        messages.error(request, form.non_field_errors().as_text() or "That is not possible now.")
        return redirect("appeals:detail", pk=appeal.pk)
    context["failed_action"] = action
    return render(request, "appeals/detail.html", context, status=400)


@login_required
@require_POST
@once_per_form_token
def appeal_cite(request: HttpRequest, pk: int) -> HttpResponse:
    appeal = _appeal(request, pk)
    form = appeal_forms.CiteForm(request.POST, appeal=appeal)
    if form.is_valid():
        try:
            resolution = services.version_cite(
                actor=request.user,
                version=form.cleaned_data["version"],
                appeal=appeal,
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            if resolution.clause_changed is False:
                messages.warning(
                    request,
                    f"Cited — but clause {resolution.clause_key} did not "
                    f"change in {resolution.version.number}.",
                )
            else:
                messages.success(request, "The version now cites this appeal.")
            return redirect("appeals:detail", pk=appeal.pk)
    context = _detail_context(request, appeal, posted={"cite": form})
    return render(request, "appeals/detail.html", context, status=400)


# --- Public -----------------------------------------------------------------------------------


@require_safe
def decision_list(request: HttpRequest) -> HttpResponse:
    company = _param(request, "company", 80)
    outcome = _param(request, "outcome")
    by = _param(request, "by")
    clause = _param(request, "clause")
    decisions = selectors.published_decisions(
        company=company, outcome=outcome, by=by, clause=clause
    )
    page = Paginator(decisions, PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "decisions": page.object_list,
        "company": company,
        "outcome": outcome,
        "by": by,
        "clause": clause,
        "companies": selectors.companies_with_appeals(),
        "outcomes": Outcome.choices,
        "bys": Decision.By.choices,
    }
    template = (
        "appeals/decisions.html#decision-results" if request.htmx else "appeals/decisions.html"
    )
    return render(request, template, context)


@require_safe
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    decision = selectors.decision_detail(pk)
    if decision is None:
        raise Http404("No such decision.")
    return render(
        request, "appeals/decision.html", {"decision": decision, "appeal": decision.appeal}
    )


def _recommendation_rows(request: HttpRequest, recs: Iterable[Recommendation]) -> list[tuple]:
    """(recommendation, whether the reader answers for the company, answer overdue, the later
    versions the reader may cite it from) — one query per earlier policy version, not per row."""
    reviewer_of = {o.pk for o in selectors.reviewer_organizations(request.user)}
    rows = []
    later: dict[int, list[PolicyVersion]] = {}
    for r in recs:
        can_answer = r.policy.organization_id in reviewer_of
        earlier = r.source_version
        if can_answer and earlier.pk not in later:
            later[earlier.pk] = _later_versions(earlier)
        cite = later.get(earlier.pk, []) if can_answer else []
        rows.append((r, can_answer, r.answer_overdue, cite))
    return rows


@require_safe
def recommendation_list(request: HttpRequest) -> HttpResponse:
    company = _param(request, "company", 80)
    answered = _param(request, "answered")
    source = _param(request, "source")
    recs = selectors.recommendations(company=company, answered=answered, source=source)
    page = Paginator(recs, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "appeals/recommendations.html",
        {
            "page": page,
            "rows": _recommendation_rows(request, page.object_list),
            "company": company,
            "answered": answered,
            "source": source,
            "sources": Recommendation.Source.choices,
            "companies": selectors.companies_with_recommendations(),
            "answer_form": appeal_forms.AnswerForm(),
        },
    )


def _recommendation_page(
    request: HttpRequest,
    recommendation: Recommendation,
    *,
    answer_form: appeal_forms.AnswerForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "appeals/recommendation.html",
        {
            "rec": recommendation,
            "row": _recommendation_rows(request, [recommendation])[0],
            "answer_form": answer_form or appeal_forms.AnswerForm(),
        },
        status=status,
    )


@require_safe
def recommendation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    recommendation = selectors.recommendation_detail(pk)
    if recommendation is None:
        raise Http404("No such recommendation.")
    return _recommendation_page(request, recommendation)


def _later_versions(earlier: PolicyVersion) -> list[PolicyVersion]:
    return list(appeal_forms.CiteForm.later_than(earlier))


@login_required
@require_POST
@once_per_form_token
def recommendation_cite(request: HttpRequest, pk: int) -> HttpResponse:
    recommendation = get_object_or_404(Recommendation, pk=pk)
    raw = request.POST.get("version", "")[:20]
    version = PolicyVersion.objects.filter(pk=raw).first() if raw.isdigit() else None
    if version is None:
        messages.error(request, "Choose the later policy version.")
    else:
        try:
            resolution = services.version_cite(
                actor=request.user, version=version, recommendation=recommendation
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if resolution.clause_changed is False:
                messages.warning(
                    request,
                    f"Cited — but clause {resolution.clause_key} did not change in "
                    f"{version.number}: the recommendation is not implemented by it.",
                )
            else:
                messages.success(request, f"Version {version.number} now cites it.")
    return redirect("appeals:recommendation", pk=pk)


@login_required
@require_POST
@once_per_form_token
def recommendation_answer(request: HttpRequest, pk: int) -> HttpResponse:
    recommendation = selectors.recommendation_detail(pk)
    if recommendation is None:
        raise Http404("No such recommendation.")
    form = appeal_forms.AnswerForm(request.POST)
    if not form.is_valid():
        return _recommendation_page(request, recommendation, answer_form=form, status=400)
    try:
        services.recommendation_answer(
            actor=request.user,
            recommendation=recommendation,
            answer=form.cleaned_data["answer"],
            text=form.cleaned_data["text"],
        )
    except Invalid as error:
        if "answer_text" in error.fields:  # the service's name for the form's "text"
            error.fields["text"] = error.fields.pop("answer_text")
        add_domain_error(form, error)
        return _recommendation_page(request, recommendation, answer_form=form, status=400)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Your answer is on the record.")
    return redirect("appeals:recommendation", pk=pk)


@require_safe
def transparency_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "appeals/transparency_index.html",
        {"companies": selectors.companies_with_appeals()},
    )


def _quarter(request: HttpRequest, organization: Organization) -> tuple[int, int]:
    year, quarter = selectors.quarter_of(timezone.now())
    try:
        year = int(request.GET.get("year", year))
        quarter = int(request.GET.get("quarter", quarter))
    except ValueError as error:
        raise Http404("No such quarter.") from error
    if not (2000 <= year <= 2100 and 1 <= quarter <= 4):
        raise Http404("No such quarter.")
    return year, quarter


BAR_WIDTH = 300


def _bars(items: list[tuple[str, int]]) -> dict:
    """A horizontal bar chart drawn on the server (SVG), scaled to the largest value."""
    top = max([n for _, n in items] + [1])
    bars = [
        {"label": label, "n": n, "width": round(BAR_WIDTH * n / top), "y": 28 * i}
        for i, (label, n) in enumerate(items)
    ]
    return {"bars": bars, "height": 28 * max(1, len(bars)), "width": BAR_WIDTH + 260}


@require_safe
def transparency_report(request: HttpRequest, company: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=company, kind=Organization.Kind.DEVELOPER)
    year, quarter = _quarter(request, organization)
    from appeals.models import TransparencyReport

    frozen = TransparencyReport.objects.filter(
        organization=organization, year=year, quarter=quarter
    ).first()
    figures = (
        frozen.figures
        if frozen
        else selectors.transparency_figures(organization=organization, year=year, quarter=quarter)
    )
    fmt = request.GET.get("format", "")
    if fmt == "json":
        response = JsonResponse(figures, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = (
            f'attachment; filename="transparency-{organization.slug}-{year}-q{quarter}.json"'
        )
        return response
    if fmt == "csv":
        return _csv(figures, organization, year, quarter)
    kinds = [(Kind(k).label.split(":")[0], n) for k, n in figures["received"]["by_kind"].items()]
    outcomes = []
    for by, label in (("company", "Company"), ("panel", "Panel"), ("summary", "Summary")):
        for o, n in figures["decisions"][by].items():
            if by == "summary" and o == Outcome.UPHELD:
                continue  # a summary decision reverses: it never upholds
            outcomes.append((f"{label}: {Outcome(o).label.split(' (')[0].lower()}", n))
    breaches = [
        (workflow.DEADLINES[name].description, n)
        for name, n in figures["deadline_breaches"].items()
    ]
    rejections = [(RejectionReason(r).label, n) for r, n in figures["rejections"].items()]
    overdue = list(selectors.overdue_public(company=organization.slug)[:50])
    context = {
        "organization": organization,
        "year": year,
        "quarter": quarter,
        "figures": figures,
        "frozen": frozen,
        "kind_chart": _bars(kinds),
        "outcome_chart": _bars(outcomes),
        "quarters": selectors.quarters_with_appeals(organization),
        "overdue": overdue,
        "rows_kind": kinds,
        "rows_outcome": outcomes,
        "rows_breaches": breaches,
        "rows_rejections": rejections,
    }
    return render(request, "appeals/transparency.html", context)


def _flatten(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out.append((prefix, "" if value is None else value))


def _csv(figures: dict, organization: Organization, year: int, quarter: int) -> HttpResponse:
    rows: list = []
    _flatten("", figures, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["figure", "value"])
    writer.writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="transparency-{organization.slug}-{year}-q{quarter}.csv"'
    )
    return response


@require_safe
def workflow_page(request: HttpRequest) -> HttpResponse:
    deadlines = [
        {
            "name": d.name,
            "days": d.days,
            "kind": d.kind,
            "description": d.description,
            "responsible": workflow.ROLE_LABELS[d.responsible],
        }
        for d in workflow.DEADLINES.values()
    ]
    return render(
        request,
        "appeals/workflow.html",
        {"rows": workflow.table_rows(), "deadlines": deadlines, "roles": workflow.ROLE_LABELS},
    )
