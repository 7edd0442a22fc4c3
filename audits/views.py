"""Evidence pages: the runs, one run (status, chart and figures per category, samples, cancel),
upload, relabel, a run's conformance, the conformance matrix of a policy version, one clause's
evidence across versions and runs, and the comparison of two runs."""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audits import charts, selectors, services
from audits.forms import RelabelForm, RunUploadForm
from audits.models import CategoryMapping, EvaluationRun, EvaluationSample
from governance.errors import DomainError
from governance.forms import add_domain_error
from governance.idempotency import once_per_form_token
from governance.models import Membership, Organization

RUNS_PAGE = 50


@require_safe
def run_list(request: HttpRequest) -> HttpResponse:
    runs = selectors.runs()
    system = _text(request, "system", 80)
    if system:
        runs = runs.filter(system__slug=system)
    source = request.GET.get("source", "")
    if source in EvaluationRun.Source.values:
        runs = runs.filter(source=source)
    context = {
        "runs": runs[:RUNS_PAGE],
        "source": source,
        "sources": EvaluationRun.Source.choices,
        "can_upload": request.user.is_authenticated and bool(_uploaders(request.user)),
    }
    return render(request, "audits/run_list.html", context)


def _run(pk) -> EvaluationRun:
    run = selectors.run_detail(pk)
    if run is None:
        raise Http404("No such evaluation run.")
    return run


def _text(request: HttpRequest, name: str, limit: int) -> str:
    """A text filter from the query string: trimmed, cut to `limit`, without NUL (which
    PostgreSQL text cannot hold: a hostile `%00` must not become a 500)."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:limit]


def _after(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@require_safe
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(pk)
    total, categories = selectors.run_figures(run)
    category = _text(request, "category", 300)
    label = request.GET.get("label", "")
    q = _text(request, "q", 200)
    expected = request.GET.get("should_refuse", "")
    should_refuse = {"true": True, "false": False}.get(expected)
    samples, next_after = selectors.run_samples(
        run,
        category=category,
        label=label,
        q=q,
        should_refuse=should_refuse,
        after=_after(request.GET.get("after", "")),
    )
    context = {
        "run": run,
        "progress": services.run_progress(run),
        "total": total,
        "categories": categories,
        "samples": samples,
        "next_after": next_after,
        "category": category,
        "label": label,
        "q": q,
        "should_refuse": expected if should_refuse is not None else "",
        "labels": EvaluationSample.Label.choices,
        "shows_withheld": selectors.shows_withheld(request.user, run),
        "can_relabel": request.user.is_authenticated
        and request.user.has_perm("audits.relabel_sample", None),
        "relabel_form": RelabelForm(),
        "classifier": selectors.classifier_error()
        if (run.label_counts or {}).get("sources", {}).get("classifier")
        else None,
        "can_cancel": not run.is_finished
        and run.cancel_requested_at is None
        and request.user.is_authenticated
        and request.user.has_perm("audits.cancel_run", run),
        "chart": charts.rate_chart(
            [(row.category or "(none)", row.refusal, row.n) for row in categories],
            title="Refusal rate by category",
        )
        if run.status == EvaluationRun.Status.COMPLETE
        else None,
    }
    template = "audits/_status.html" if request.htmx and request.GET.get("status") else None
    return render(request, template or "audits/run_detail.html", context)


def _uploaders(user) -> list[Organization]:
    """The organizations `user` may upload for: developers they edit, auditors they belong to."""
    memberships = Membership.objects.filter(user=user).select_related("organization")
    found = []
    for membership in memberships:
        organization = membership.organization
        if (
            organization.kind == Organization.Kind.DEVELOPER
            and membership.role
            in (
                Membership.Role.OWNER,
                Membership.Role.EDITOR,
            )
        ) or organization.kind == Organization.Kind.AUDITOR:
            found.append(organization)
    return found


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def run_upload(request: HttpRequest) -> HttpResponse:
    organizations = _uploaders(request.user)
    if request.method == "POST":
        form = RunUploadForm(request.POST, request.FILES, organizations=organizations)
    else:
        form = RunUploadForm(organizations=organizations)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.run_upload(
                actor=request.user,
                organization=data["organization"],
                system=data["system"],
                upload=data["artifact"],
                companion=data.get("companion"),
                source=data["source"],
                system_version=data["system_version"],
                benchmark=data["benchmark"],
                benchmark_version=data["benchmark_version"],
                harness_format=data["harness_format"] or None,
                withhold_prompts=data["withhold_prompts"],
                withhold_responses=data["withhold_responses"],
                notes=data["notes"],
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "The file is stored; its samples are being imported.")
            return redirect("audits:run", pk=run.pk)
    context = {"form": form, "organizations": organizations}
    return render(request, "audits/run_upload.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
@once_per_form_token
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(pk)
    try:
        run = services.run_cancel(actor=request.user, run=run)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            "The import is cancelled; nothing of it was kept."
            if run.status == EvaluationRun.Status.CANCELLED
            else "Cancelling: the import stops within moments and keeps nothing.",
        )
    return redirect("audits:run", pk=run.pk)


@login_required
@require_POST
@once_per_form_token
def sample_relabel(request: HttpRequest, pk: int) -> HttpResponse:
    sample = get_object_or_404(EvaluationSample.objects.select_related("run"), pk=pk)
    form = RelabelForm(request.POST)
    if form.is_valid():
        try:
            services.sample_relabel(actor=request.user, sample=sample, **form.cleaned_data)
        except DomainError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Sample {sample.sample_id} is relabelled on the record.")
    else:
        problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        messages.error(request, f"Not relabelled — {problems}")
    return redirect("audits:run", pk=sample.run_id)


def _version_for(run: EvaluationRun, value: str):
    versions = list(selectors.versions_for_run(run))
    chosen = next((v for v in versions if str(v.pk) == value), versions[0] if versions else None)
    return versions, chosen


@require_safe
def run_conformance(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(pk)
    versions, version = _version_for(run, request.GET.get("version", ""))
    rows = selectors.conformance(version, run) if version is not None else []
    can_map = (
        version is not None
        and request.user.is_authenticated
        and request.user.has_perm("audits.map_categories", version)
    )
    context = {
        "run": run,
        "versions": versions,
        "version": version,
        "rows": rows,
        "thresholds": selectors.conformance_thresholds(),
        "can_map": can_map,
        "mappings": selectors.mappings_for(version).filter(benchmark=run.benchmark)
        if version is not None
        else [],
        "categories": selectors.run_categories(run),
        "clauses": version.clauses.order_by("position") if version is not None else [],
        "classifier": selectors.classifier_error()
        if (run.label_counts or {}).get("sources", {}).get("classifier")
        else None,
        "suggestions": selectors.mapping_suggestions(version, run)
        if version is not None and can_map
        else [],
        "chart": charts.rate_chart(
            [(row.clause.key, row.good, row.figures.n) for row in rows if row.figures],
            title="Share of samples showing each clause's expected behaviour",
            measure="share showing the expected behaviour",
            target=selectors.conformance_thresholds()[1],
        ),
    }
    return render(request, "audits/conformance.html", context)


@login_required
@require_POST
@once_per_form_token
def mapping_change(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a mapping, remove one, or carry the earlier version's forward, from the run's
    conformance page; back to it with a message either way."""
    run = _run(pk)
    _versions, version = _version_for(run, request.POST.get("version", ""))
    if version is None:
        raise Http404("No policy version covers this run's system.")
    try:
        if "remove" in request.POST:
            mapping = get_object_or_404(
                CategoryMapping, pk=_after(request.POST["remove"]) or 0, version=version
            )
            services.mapping_remove(actor=request.user, mapping=mapping)
            messages.success(request, "The mapping is removed, on the record.")
        elif "carry_forward" in request.POST:
            added = services.mapping_carry_forward(actor=request.user, version=version)
            messages.success(
                request, f"{added} mapping{'s' if added != 1 else ''} carried forward."
            )
        else:
            services.mapping_add(
                actor=request.user,
                version=version,
                benchmark=run.benchmark,
                category=request.POST.get("category", ""),
                clause_key=request.POST.get("clause", ""),
            )
            messages.success(request, "The category is mapped, on the record.")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect(f"{reverse('audits:conformance', args=[run.pk])}?version={version.pk}")


@require_safe
def run_compare(request: HttpRequest) -> HttpResponse:
    runs = list(selectors.runs().filter(status=EvaluationRun.Status.COMPLETE)[:200])
    first = selectors.run_detail(request.GET.get("a"))
    second = selectors.run_detail(request.GET.get("b"))
    overall, rows = (None, [])
    if first and second:
        complete = EvaluationRun.Status.COMPLETE
        if first.status != complete or second.status != complete:
            messages.error(request, "Both runs must be completely imported to be compared.")
        else:
            overall, rows = selectors.compare_runs(first, second)
    context = {"runs": runs, "first": first, "second": second, "overall": overall, "rows": rows}
    return render(request, "audits/compare.html", context)


# --- The conformance matrix and one clause's evidence -------------------------------------------


def _policy_version(org_slug: str, policy_slug: str, number: str):
    from policies import selectors as policy_selectors
    from policies.models import PolicyVersion

    policy = policy_selectors.policy_get(organization_slug=org_slug, policy_slug=policy_slug)
    if policy is None:
        raise Http404("No such policy.")
    version = policy_selectors.version_get(policy=policy, number=number)
    if version is None or version.status == PolicyVersion.Status.DRAFT:
        raise Http404("No such published version.")
    return policy, version


@require_safe
def conformance_matrix(
    request: HttpRequest, org_slug: str, policy_slug: str, number: str
) -> HttpResponse:
    from policies import selectors as policy_selectors

    policy, version = _policy_version(org_slug, policy_slug, number)
    by = "system_version" if request.GET.get("by") == "system_version" else "run"
    system = _text(request, "system", 80)
    benchmark = _text(request, "benchmark", 120)
    source = request.GET.get("source", "")
    filters = {"by": by, "system": system, "benchmark": benchmark, "source": source}
    clause_url = reverse(
        "audits:clause", args=[policy.organization.slug, policy.slug, "KEY"]
    ).removesuffix("KEY/")
    # The table is rendered once per state of what it shows (see selectors.matrix_cache_key).
    key = selectors.matrix_cache_key(version, kind="page", **filters)
    table = cache.get(key)
    if table is None:
        matrix = selectors.conformance_matrix(version, **filters)
        from audits.robustness_selectors import matrix_robustness

        table = render_to_string(
            "audits/_matrix_table.html",
            {"matrix": matrix, "policy": policy, "version": version, **filters,
             "robustness": matrix_robustness(matrix),
             "clause_url": clause_url, "filtered": bool(system or benchmark or source),
             "classifier": selectors.classifier_error() if matrix.uses_classifier else None},
        )  # fmt: skip
        cache.set(key, table, selectors.MATRIX_CACHE_SECONDS)
    context = {
        "policy": policy,
        "version": version,
        "table": table,
        "by": by,
        "system": system,
        "benchmark": benchmark,
        "source": source,
        "systems": policy_selectors.policy_systems(policy),
        "benchmarks": sorted(
            set(selectors.mappings_for(version).values_list("benchmark", flat=True))
        ),
        "sources": EvaluationRun.Source.choices,
        "thresholds": selectors.conformance_thresholds(),
    }
    return render(request, "audits/matrix.html", context)


# The clause evidence page's figures (every version and run, the chart, the robustness section)
# and its pages of samples are cached by clause_evidence_stamp: completed runs never change, and
# anything that does (a new run, a mapping, a relabelling, a name) names another entry. Bump on
# changes to the `sections` or `samples` partials of clause_evidence.html or to the cached
# dataclasses.
CLAUSE_CACHE_VERSION = "1"
CLAUSE_CACHE_SECONDS = 24 * 3600


def _clause_cache_key(kind: str, *parts: object) -> str:
    """Named by the stamp and everything else a fragment depends on, the reader's time zone and
    language included (dates and numbers are formatted for them)."""
    from django.utils import timezone, translation

    parts = (*parts, timezone.get_current_timezone_name(), translation.get_language())
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"evidence:clause-{kind}:v{CLAUSE_CACHE_VERSION}:{digest}"


@require_safe
def clause_evidence(
    request: HttpRequest, org_slug: str, policy_slug: str, key: str
) -> HttpResponse:
    from policies import selectors as policy_selectors

    policy = policy_selectors.policy_get(organization_slug=org_slug, policy_slug=policy_slug)
    if policy is None:
        raise Http404("No such policy.")
    key = key[:120]
    stamp = selectors.clause_evidence_stamp(policy, key)
    evidence_key = f"evidence:clause:v{CLAUSE_CACHE_VERSION}:{stamp}"
    evidence = cache.get(evidence_key)
    if evidence is None:
        evidence = selectors.clause_evidence(policy, key)
        cache.set(evidence_key, evidence, CLAUSE_CACHE_SECONDS)
    if not evidence:
        raise Http404("No published version of this policy has that clause.")
    chosen = request.GET.get("version", "")
    current = next((e for e in evidence if e.version.number == chosen), None)
    if current is None:
        current = next((e for e in evidence if e.runs), evidence[0])
    sections_key = _clause_cache_key("sections", stamp, current.version.pk)
    sections = cache.get(sections_key)
    if sections is None:
        sections = render_to_string(
            "audits/clause_evidence.html#sections",
            {
                "key": key,
                "evidence": evidence,
                "current": current,
                "classifier": selectors.classifier_error()
                if any(item.uses_classifier for item in evidence)
                else None,
                "chart": _clause_chart(current),
            },
        )
        cache.set(sections_key, sections, CLAUSE_CACHE_SECONDS)
    filters = {
        "run": _after(request.GET.get("run", "")),
        "system": _text(request, "system", 80),
        "system_version": _text(request, "system_version", 120),
        "label": request.GET.get("label", "")[:20],
        "after": _after(request.GET.get("after", "")),
    }
    runs = {figure.run.pk: figure.run for figure in current.runs}
    # Which runs' withheld texts this reader sees: a few queries at most, none when anonymous.
    shows = selectors.shows_withheld_by_run(request.user, runs.values())
    samples_key = _clause_cache_key(
        "samples", stamp, current.version.pk, *filters.values(), sorted(shows.items())
    )
    samples_section = cache.get(samples_key)
    if samples_section is None:
        samples, next_after = selectors.clause_samples(current, **filters)
        mapping_of = {(m.benchmark, m.category): m for m in current.mappings}
        rows = []
        for sample in samples:
            run = runs[sample.run_id]
            rows.append(
                {
                    "sample": sample,
                    "run": run,
                    "mapping": mapping_of.get((run.benchmark, sample.category)),
                    "hide_prompt": run.withhold_prompts and not shows.get(run.pk),
                    "hide_response": run.withhold_responses and not shows.get(run.pk),
                }
            )
        samples_section = render_to_string(
            "audits/clause_evidence.html#samples",
            {**filters, "current": current, "rows": rows, "next_after": next_after,
             "labels": EvaluationSample.Label.choices},
        )  # fmt: skip
        cache.set(samples_key, samples_section, CLAUSE_CACHE_SECONDS)
    context = {
        "policy": policy,
        "key": key,
        "current": current,
        # Both rendered by this template's own partials (autoescaped there).
        "sections": mark_safe(sections),
        "samples_section": mark_safe(samples_section),
        "thresholds": selectors.conformance_thresholds(),
    }
    return render(request, "audits/clause_evidence.html", context)


def _clause_chart(current) -> dict | None:
    return charts.rate_chart(
        [
            (f"#{f.run.pk} {f.run.system.name} {f.run.system_version}", f.cell.good, f.cell.n)
            for f in current.runs
        ],
        title="Share showing the expected behaviour "
        f"({current.clause.get_expected_behavior_display().lower()}), run by run",
        measure="share showing the expected behaviour",
        target=selectors.conformance_thresholds()[1],
    )
