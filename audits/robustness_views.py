"""Pages of issue 9: a run's robustness under reframing (figures by framing, per clause, and the
flips), the drift alerts (list with filters, one alert with the company's annotation) and an AI
system's over-/under-refusal trade-off. Their URLs are added to audits.urls."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST, require_safe

from audits import robustness as rb
from audits import robustness_selectors as rsel
from audits import selectors
from audits.drift_models import DriftAlert
from audits.drift_services import drift_annotate
from audits.robustness_charts import tradeoff_chart
from governance.errors import DomainError
from governance.idempotency import once_per_form_token
from governance.models import AISystem

ALERTS_PAGE = 50
FLIPS_PAGE = 25


def _text(request: HttpRequest, name: str, limit: int) -> str:
    return request.GET.get(name, "").replace("\x00", "").strip()[:limit]


def _int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@require_safe
def run_robustness(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.run_detail(pk)
    if run is None:
        raise Http404("No such evaluation run.")
    versions = list(selectors.versions_for_run(run))
    chosen = request.GET.get("version", "")
    version = next((v for v in versions if str(v.pk) == chosen), versions[0] if versions else None)
    overall, clauses = rsel.run_robustness(run, version)
    framing = _text(request, "framing", 60)
    shows = not run.withhold_prompts or selectors.shows_withheld(request.user, run)
    flips, next_after = rb.flips(
        run,
        shows_prompts=shows,
        framing=framing,
        after=_int(request.GET.get("after", "")),
        limit=FLIPS_PAGE,
    )
    context = {
        "run": run,
        "versions": versions,
        "version": version,
        "overall": overall,
        "clauses": clauses,
        "flips": flips,
        "next_after": next_after,
        "framing": framing,
        "framings": [r.framing for r in overall.rows if r.interval is not None],
        "orphans": rb.orphan_variants(run),
        "withheld": run.withhold_prompts and not shows,
        "thresholds": rb.thresholds(),
    }
    return render(request, "audits/robustness/run.html", context)


@require_safe
def drift_list(request: HttpRequest) -> HttpResponse:
    filters = {
        "organization": _text(request, "organization", 80),
        "system": _text(request, "system", 80),
        "clause": _text(request, "clause", 120),
        "framing": _text(request, "framing", 60),
        "status": _text(request, "status", 10),
    }
    alerts = rsel.drift_alerts(**filters)
    # Each filter a choice among the values the alerts have.
    choices = rsel.drift_filter_choices()
    labels = {"organization": "Organization", "system": "AI system", "clause": "Clause",
              "framing": "Framing", "status": "Status"}  # fmt: skip
    context = {
        "alerts": alerts[:ALERTS_PAGE],
        "filters": filters,
        "selects": [(name, label, choices[name]) for name, label in labels.items()],
    }
    return render(request, "audits/robustness/drift_list.html", context)


def _alert_or_404(pk) -> DriftAlert:
    alert = rsel.drift_alert(pk)
    if alert is None:
        raise Http404("No such drift alert.")
    return alert


@require_safe
def drift_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(pk)
    return render(request, "audits/robustness/drift_detail.html", _detail_context(request, alert))


def _detail_context(request, alert, **extra):
    can_annotate = request.user.is_authenticated and request.user.has_perm(
        "audits.annotate_drift", alert
    )
    versions = (
        alert.policy.versions.exclude(status="draft").order_by("-major", "-minor", "-patch")
        if can_annotate
        else []
    )
    return {"alert": alert, "can_annotate": can_annotate, "versions": versions, **extra}


@login_required
@require_POST
@once_per_form_token
def drift_annotate_view(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(pk)
    version = None
    version_id = _int(request.POST.get("version", "").strip())
    if request.POST.get("version"):
        version = alert.policy.versions.filter(pk=version_id or 0).first()
    note = request.POST.get("note", "")
    clause_key = request.POST.get("clause_key", "")
    try:
        if request.POST.get("version") and version is None:
            from governance.errors import Invalid

            raise Invalid(
                "Choose a version of this policy.", fields={"version": ["No such version."]}
            )
        drift_annotate(
            actor=request.user, alert=alert, note=note, version=version, clause_key=clause_key
        )
    except DomainError as error:
        context = _detail_context(
            request,
            alert,
            error=error,
            errors=getattr(error, "fields", {}),
            posted={"note": note[:5000], "clause_key": clause_key[:120], "version": version_id},
        )
        status = 403 if error.status == 403 else 400
        return render(request, "audits/robustness/drift_detail.html", context, status=status)
    messages.success(request, "Your annotation is published on the alert, on the record.")
    return redirect("audits:drift-alert", pk=alert.pk)


@require_safe
def system_tradeoff(request: HttpRequest, org_slug: str, system_slug: str) -> HttpResponse:
    system = (
        AISystem.objects.select_related("organization")
        .filter(organization__slug=org_slug, slug=system_slug)
        .first()
    )
    if system is None:
        raise Http404("No such AI system.")
    from policies.models import PolicyVersion

    versions = list(
        PolicyVersion.objects.filter(policy__systems=system)
        .exclude(status=PolicyVersion.Status.DRAFT)
        .select_related("policy")
        .defer("body_markdown")
        .order_by("policy__title", "-major", "-minor", "-patch")
    )
    chosen = request.GET.get("version", "")
    version = next((v for v in versions if str(v.pk) == chosen), versions[0] if versions else None)
    families = rsel.clause_families(version)
    family = _text(request, "family", 120)
    if family not in families:
        family = ""
    points = rsel.tradeoff(system, family=family, version=version)
    context = {
        "system": system,
        "versions": versions,
        "version": version,
        "families": families,
        "family": family,
        "points": points,
        "chart": tradeoff_chart(points, title=f"{system.name}: over- against under-refusal"),
    }
    return render(request, "audits/robustness/tradeoff.html", context)


urlpatterns = [
    path("runs/<int:pk>/robustness/", run_robustness, name="robustness"),
    path("drift/", drift_list, name="drift-alerts"),
    path("drift/<int:pk>/", drift_detail, name="drift-alert"),
    path("drift/<int:pk>/annotate/", drift_annotate_view, name="drift-annotate"),
    path(
        "systems/<slug:org_slug>/<slug:system_slug>/tradeoff/",
        system_tradeoff,
        name="tradeoff",
    ),
]
