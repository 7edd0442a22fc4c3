"""What the appeals app tells the core about its public data (governance.public_data): links
to its ledger subjects, its webhook event types and its datasets in the nightly dumps.
Registered from AppealsConfig.ready().

What is public: every decision (outcome and clause; the reasons and the redacted transcript
only with the filer's consent — the rule of `PublicDecisionSerializer`), every
recommendation and the company's answers, and the transparency figures. An appeal itself is
private (its filer, its transcript, its notes): the feed names it, and links to its latest
decision once there is one, never to the appeal's own record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from appeals.models import Appeal, Decision, Recommendation, TransparencyReport
from governance.public_data import (
    SubjectLink,
    register_dump_dataset,
    register_event_types,
    register_subject_links,
)

CHUNK = 2000

EVENT_TYPES = {
    "appeal_decision.published": "A company or the independent panel decided an appeal (the "
    "decision is public: outcome and clause; the reasons with the filer's consent).",
    "recommendation.created": "The panel made a recommendation to a company.",
    "recommendation.answered": "A company answered (or revised its answer to) a recommendation.",
    "recommendation.implemented": "A published policy version changed the clause a "
    "recommendation was about.",
    "recommendation.answer_overdue": "A company did not answer a recommendation in time.",
    "transparency_report.compiled": "A company's transparency figures for a quarter that ended "
    "were frozen and published (their SHA-256 is on the ledger).",
}


def _decision_link(pk: int, org: str, policy: int) -> SubjectLink:
    return SubjectLink(
        api=reverse("appeal-decision-detail", args=[pk]),
        page=reverse("appeals:decision", args=[pk]),
        organization=org,
        policy=policy,
    )


def appeal_links(ids: set[int]) -> dict[int, SubjectLink]:
    """An appeal is private: no link of its own. Once decided, its latest decision (which is
    public) is where the change can be read; before that the links are null."""
    rows = Appeal.objects.filter(pk__in=ids).values_list(
        "pk", "organization__slug", "version__policy_id"
    )
    latest: dict[int, int] = {}
    for appeal, decision in (
        Decision.objects.filter(appeal_id__in=ids)
        .order_by("appeal_id", "decided_at", "pk")
        .values_list("appeal_id", "pk")
    ):
        latest[appeal] = decision  # ordered: the last one wins
    links = {}
    for pk, org, policy in rows:
        if pk in latest:
            links[pk] = _decision_link(latest[pk], org, policy)
        else:
            links[pk] = SubjectLink(organization=org, policy=policy)
    return links


def decision_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = Decision.objects.filter(pk__in=ids).values_list(
        "pk", "appeal__organization__slug", "appeal__version__policy_id"
    )
    return {pk: _decision_link(pk, org, policy) for pk, org, policy in rows}


def recommendation_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = Recommendation.objects.filter(pk__in=ids).values_list(
        "pk", "policy__organization__slug", "policy_id"
    )
    page = reverse("appeals:recommendations")
    return {
        pk: SubjectLink(
            api=reverse("recommendation-detail", args=[pk]),
            page=f"{page}?{urlencode({'company': org})}#recommendation-{pk}",
            organization=org,
            policy=policy,
        )
        for pk, org, policy in rows
    }


def report_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = TransparencyReport.objects.filter(pk__in=ids).values_list(
        "pk", "organization__slug", "year", "quarter"
    )
    links = {}
    for pk, org, year, quarter in rows:
        query = urlencode({"year": year, "quarter": quarter})
        links[pk] = SubjectLink(
            api=reverse("transparency-report", kwargs={"company": org}) + f"?{query}",
            page=reverse("appeals:transparency", kwargs={"company": org}) + f"?{query}",
            organization=org,
        )
    return links


def decision_names(ids: set[int]) -> dict[int, str]:
    """Ledger labels for decisions: the company and the clause, never the filer."""
    decisions = Decision.objects.filter(pk__in=ids).select_related("appeal__organization")
    return {
        d.pk: f"Decision #{d.pk} ({d.get_by_display().lower()}) on appeal #{d.appeal_id} to "
        f"{d.appeal.organization.name} on {d.clause_key}"
        for d in decisions
    }


# --- Dumps ------------------------------------------------------------------------------------


def decision_rows() -> Iterator[dict[str, Any]]:
    """Every decision as `GET /api/v1/appeal-decisions/{id}/` shows it: the outcome and the
    clause; the reasons and the redacted transcript only where the filer consented."""
    from appeals.api import PublicDecisionSerializer
    from appeals.selectors import published_decisions

    decisions = published_decisions().order_by("pk")
    for decision in decisions.iterator(chunk_size=CHUNK):
        yield dict(PublicDecisionSerializer(decision).data)


def recommendation_rows() -> Iterator[dict[str, Any]]:
    """Every recommendation with the company's answer, as the API shows it."""
    from appeals.api import RecommendationSerializer
    from appeals.selectors import recommendations

    for rec in recommendations().order_by("pk").iterator(chunk_size=CHUNK):
        yield dict(RecommendationSerializer(rec).data)


def transparency_rows() -> Iterator[dict[str, Any]]:
    """What the transparency pages show, per company and quarter with appeals: the frozen
    figures of a compiled quarter (with their SHA-256, as on the ledger), otherwise the
    figures computed now (`frozen` false: they may still move)."""
    from appeals.selectors import (
        companies_with_appeals,
        quarters_with_appeals,
        transparency_figures,
    )

    frozen = {
        (r.organization_id, r.year, r.quarter): r
        for r in TransparencyReport.objects.order_by("pk").iterator(chunk_size=CHUNK)
    }
    for organization in companies_with_appeals():
        quarters = set(quarters_with_appeals(organization))
        quarters |= {(y, q) for org, y, q in frozen if org == organization.pk}
        for year, quarter in sorted(quarters):
            report = frozen.get((organization.pk, year, quarter))
            if report is not None:
                yield {
                    **report.figures,
                    "frozen": True,
                    "compiled_at": report.compiled_at.isoformat(),
                    "figures_sha256": report.figures_sha256,
                }
            else:
                figures = transparency_figures(
                    organization=organization, year=year, quarter=quarter
                )
                yield {**figures, "frozen": False, "compiled_at": None, "figures_sha256": None}


def register() -> None:
    from governance.selectors.ledger import register_subject_resolver

    register_subject_resolver("decision", decision_names)
    register_subject_links("appeal", appeal_links)
    register_subject_links("decision", decision_links)
    register_subject_links("recommendation", recommendation_links)
    register_subject_links("transparencyreport", report_links)
    register_event_types(EVENT_TYPES)
    register_dump_dataset(
        "appeal_decisions",
        description="Decisions on appeals: outcome and clause; the reasons and the redacted "
        "transcript only where the filer consented to publication.",
        rows=decision_rows,
    )
    register_dump_dataset(
        "recommendations",
        description="Recommendations to companies, with their answers.",
        rows=recommendation_rows,
    )
    register_dump_dataset(
        "transparency_reports",
        description="Appeal figures per company and quarter: frozen once compiled, otherwise "
        "as computed at the time of the dump.",
        rows=transparency_rows,
    )
